// Training parameters of the GBDT trainer, their defaults and bounds; the
// bounds are shared with the gbdt_train function's argument spec.
//
//   GbdtParams p;  p.objective = Objective::kBinary;  p.num_trees = 50;
//   CLOISTER_RETURN_IF_ERROR(p.Validate());
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace cloister::functions::gbdt {

// Stored in the model format, so values are fixed forever.
enum class Objective : uint32_t {
  kRegression = 0,  // squared loss; prediction is the raw score
  kBinary = 1,      // logistic loss; prediction is P(label = 1)
};

std::string_view ObjectiveName(Objective o);
// "regression" | "binary"; InvalidArgument otherwise.
Result<Objective> ParseObjective(std::string_view name);

// Inclusive bounds. Depth is capped at 16 because histogram memory grows with
// the number of nodes in a level (2^depth); see TreeBuilder.
inline constexpr int kMinTrees = 1, kMaxTrees = 10000;
inline constexpr int kMinDepth = 1, kMaxDepth = 16;
inline constexpr int kMinBins = 2, kMaxBins = 256;
inline constexpr double kMaxRegularizer = 1e9;

struct GbdtParams {
  Objective objective = Objective::kRegression;
  int num_trees = 100;
  int max_depth = 6;
  double learning_rate = 0.3;     // (0, 1]
  int64_t min_samples_leaf = 1;   // minimum rows in each child of a split
  double min_child_weight = 1.0;  // minimum hessian sum in each child
  double lambda = 1.0;            // L2 regularisation on leaf weights
  double subsample = 1.0;         // fraction of rows per tree, (0, 1]
  double colsample = 1.0;         // fraction of features per tree, (0, 1]
  uint64_t seed = 0;
  // Total bins per feature including the one reserved for missing values, so
  // at most kMaxBins - 1 value bins and a uint8 bin id always fits.
  int max_bins = 256;
  int num_threads = 0;  // 0 = all hardware threads

  // InvalidArgument naming the first parameter out of bounds.
  Status Validate() const;
};

}  // namespace cloister::functions::gbdt
