// Objective names and parameter validation; see gbdt_params.h.
#include "functions/gbdt/gbdt_params.h"

#include <cmath>
#include <string>

namespace cloister::functions::gbdt {

std::string_view ObjectiveName(Objective o) {
  switch (o) {
    case Objective::kRegression:
      return "regression";
    case Objective::kBinary:
      return "binary";
  }
  return "unknown";
}

Result<Objective> ParseObjective(std::string_view name) {
  if (name == "regression") return Objective::kRegression;
  if (name == "binary") return Objective::kBinary;
  return InvalidArgument("objective '" + std::string(name.substr(0, 64)) +
                             "' is not one of: regression, binary",
                         "GBDT_BAD_OBJECTIVE");
}

namespace {

Status Bad(std::string_view name, std::string_view why) {
  return InvalidArgument("parameter '" + std::string(name) + "' " + std::string(why),
                         "GBDT_BAD_PARAM");
}

bool InRange(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }

}  // namespace

Status GbdtParams::Validate() const {
  if (objective != Objective::kRegression && objective != Objective::kBinary)
    return Bad("objective", "is unknown");
  if (num_trees < kMinTrees || num_trees > kMaxTrees)
    return Bad("num_trees", "must be in [1, 10000]");
  if (max_depth < kMinDepth || max_depth > kMaxDepth)
    return Bad("max_depth", "must be in [1, 16]");
  if (!InRange(learning_rate, 0.0, 1.0) || learning_rate == 0.0)
    return Bad("learning_rate", "must be in (0, 1]");
  if (min_samples_leaf < 1 || min_samples_leaf > 1'000'000'000)
    return Bad("min_samples_leaf", "must be in [1, 1e9]");
  if (!InRange(min_child_weight, 0.0, kMaxRegularizer))
    return Bad("min_child_weight", "must be in [0, 1e9]");
  if (!InRange(lambda, 0.0, kMaxRegularizer)) return Bad("lambda", "must be in [0, 1e9]");
  if (!InRange(subsample, 0.0, 1.0) || subsample == 0.0)
    return Bad("subsample", "must be in (0, 1]");
  if (!InRange(colsample, 0.0, 1.0) || colsample == 0.0)
    return Bad("colsample", "must be in (0, 1]");
  if (max_bins < kMinBins || max_bins > kMaxBins) return Bad("max_bins", "must be in [2, 256]");
  if (num_threads < 0 || num_threads > 256) return Bad("num_threads", "must be in [0, 256]");
  return OkStatus();
}

}  // namespace cloister::functions::gbdt
