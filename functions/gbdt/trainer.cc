// The boosting loop; see trainer.h. Tree growth is in tree_builder.cc.
#include "functions/gbdt/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string_view>

#include "functions/gbdt/binning.h"
#include "functions/gbdt/histogram.h"
#include "functions/gbdt/internal/split_mix64.h"
#include "functions/gbdt/internal/thread_pool.h"
#include "functions/gbdt/tree_builder.h"

namespace cloister::functions::gbdt {
namespace {

constexpr uint64_t kMaxHistogramBytes = 1ull << 30;
// Rows are addressed with uint32 throughout the builder.
constexpr size_t kMaxRows = (1ull << 32) - 1;
constexpr size_t kRowsPerTask = 8192;

using Rng = internal::SplitMix64;

double Sigmoid(double m) { return 1.0 / (1.0 + std::exp(-m)); }

void ComputeGradients(Objective obj, std::span<const double> margin, std::span<const float> y,
                      std::span<GradPair> grad, internal::ThreadPool& pool) {
  const size_t n = margin.size();
  pool.ParallelFor((n + kRowsPerTask - 1) / kRowsPerTask, [&](size_t t) {
    const size_t end = std::min(n, (t + 1) * kRowsPerTask);
    for (size_t i = t * kRowsPerTask; i < end; ++i) {
      if (obj == Objective::kRegression) {
        grad[i] = {static_cast<float>(margin[i] - y[i]), 1.0f};
      } else {
        const double p = Sigmoid(margin[i]);
        // Floor the hessian as XGBoost does, so saturated rows keep a
        // positive weight.
        grad[i] = {static_cast<float>(p - y[i]), static_cast<float>(std::max(p * (1 - p), 1e-16))};
      }
    }
  });
}

void ComputeLoss(Objective obj, std::span<const double> margin, std::span<const float> y,
                 TrainMetrics& m, bool final) {
  double loss = 0;
  size_t correct = 0;
  for (size_t i = 0; i < margin.size(); ++i) {
    if (obj == Objective::kRegression) {
      const double d = margin[i] - y[i];
      loss += d * d;
    } else {
      const double p = std::clamp(Sigmoid(margin[i]), 1e-15, 1 - 1e-15);
      loss -= y[i] > 0.5f ? std::log(p) : std::log(1 - p);
      correct += (p >= 0.5) == (y[i] > 0.5f);
    }
  }
  const double n = static_cast<double>(margin.size());
  const double value = obj == Objective::kRegression ? std::sqrt(loss / n) : loss / n;
  (final ? m.final_loss : m.initial_loss) = value;
  if (final && obj == Objective::kBinary) m.train_accuracy = static_cast<double>(correct) / n;
}

Status CheckInputs(const GbdtParams& params, const DenseMatrix& x, std::span<const float> y,
                   const std::vector<std::string>& names) {
  CLOISTER_RETURN_IF_ERROR(params.Validate());
  if (x.rows() == 0) return InvalidArgument("training data has no rows", "GBDT_NO_ROWS");
  if (x.rows() > kMaxRows) return InvalidArgument("training data has too many rows");
  if (x.cols() == 0) return InvalidArgument("training data has no feature columns", "GBDT_NO_FEATURES");
  if (x.cols() > kMaxModelFeatures) return InvalidArgument("training data has too many features");
  if (y.size() != x.rows()) return InvalidArgument("label count does not match row count");
  if (names.size() != x.cols()) return InvalidArgument("feature name count does not match columns");
  std::set<std::string_view> seen;
  for (const auto& name : names) {
    if (name.empty() || name.size() > kMaxFeatureName || !seen.insert(name).second)
      return InvalidArgument("feature names must be unique, 1 to " +
                                 std::to_string(kMaxFeatureName) + " bytes",
                             "GBDT_BAD_FEATURE_NAME");
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]))
      return InvalidArgument("label of data row " + std::to_string(i + 1) + " is missing",
                             "GBDT_BAD_LABEL");
    if (params.objective == Objective::kBinary && y[i] != 0.0f && y[i] != 1.0f)
      return InvalidArgument("label of data row " + std::to_string(i + 1) +
                                 " is not 0 or 1 (objective binary)",
                             "GBDT_BAD_LABEL");
  }
  return OkStatus();
}

}  // namespace

Result<TrainResult> Train(const GbdtParams& params, const DenseMatrix& x,
                          std::span<const float> labels, std::vector<std::string> feature_names) {
  CLOISTER_RETURN_IF_ERROR(CheckInputs(params, x, labels, feature_names));
  const size_t n = x.rows(), nf = x.cols();
  internal::ThreadPool pool(internal::ThreadPool::Resolve(params.num_threads));

  const BinMapper mapper = BinMapper::Fit(x, params.max_bins, pool);
  const uint64_t hist_bytes = TreeBuilder::PeakHistogramBytes(mapper, params, n);
  if (hist_bytes > kMaxHistogramBytes)
    return ResourceExhausted("training would need " + std::to_string(hist_bytes >> 20) +
                                 " MiB of histograms (limit 1024 MiB); lower max_depth or "
                                 "max_bins, or raise min_samples_leaf",
                             "GBDT_TOO_LARGE");
  const BinnedMatrix bins = mapper.Transform(x, pool);

  TrainResult result;
  Model& model = result.model;
  model.objective = params.objective;
  model.feature_names = std::move(feature_names);
  // Start from the optimal constant: the mean, or its log-odds (clamped so a
  // single-class data set still gives a finite margin).
  const double mean = std::accumulate(labels.begin(), labels.end(), 0.0) / static_cast<double>(n);
  if (params.objective == Objective::kRegression) {
    model.base_score = mean;
  } else {
    const double p = std::clamp(mean, 1e-6, 1 - 1e-6);
    model.base_score = std::log(p / (1 - p));
  }

  std::vector<double> margin(n, model.base_score);
  std::vector<GradPair> grad(n);
  std::vector<uint32_t> rows;
  rows.reserve(n);
  std::vector<uint32_t> all_features(nf);
  std::iota(all_features.begin(), all_features.end(), 0u);
  std::vector<uint32_t> features;
  Rng rng(params.seed);
  TreeBuilder builder(bins, mapper, params, pool);
  ComputeLoss(params.objective, margin, labels, result.metrics, /*final=*/false);

  for (int t = 0; t < params.num_trees; ++t) {
    ComputeGradients(params.objective, margin, labels, grad, pool);

    rows.clear();
    if (params.subsample >= 1.0) {
      for (size_t i = 0; i < n; ++i) rows.push_back(static_cast<uint32_t>(i));
    } else {
      for (size_t i = 0; i < n; ++i)
        if (rng.Uniform() < params.subsample) rows.push_back(static_cast<uint32_t>(i));
      if (rows.empty()) rows.push_back(static_cast<uint32_t>(rng.Next() % n));
    }
    if (params.colsample >= 1.0) {
      features = all_features;
    } else {
      // Partial Fisher-Yates: the first k of a shuffled id list.
      const size_t k = std::max<size_t>(1, static_cast<size_t>(std::lround(params.colsample * static_cast<double>(nf))));
      features = all_features;
      for (size_t i = 0; i < k; ++i) std::swap(features[i], features[i + rng.Next() % (nf - i)]);
      features.resize(k);
      std::sort(features.begin(), features.end());
    }

    BuiltTree tree = builder.Build(grad, rows, features);

    // Update margins: sampled rows straight from the leaf ranges, the rest
    // (only with subsampling) by walking the tree on their bins.
    if (rows.size() == n) {
      for (const auto& leaf : tree.leaves) {
        const float v = tree.nodes[leaf.node].value;
        for (uint32_t k = leaf.begin; k < leaf.end; ++k) margin[rows[k]] += v;
      }
    } else {
      pool.ParallelFor((n + kRowsPerTask - 1) / kRowsPerTask, [&](size_t task) {
        const size_t end = std::min(n, (task + 1) * kRowsPerTask);
        for (size_t r = task * kRowsPerTask; r < end; ++r) {
          uint32_t i = 0;
          while (!tree.nodes[i].is_leaf()) {
            const Node& node = tree.nodes[i];
            const uint32_t f = node.feature_id();
            const uint8_t b = bins.at(r, f);
            const bool left =
                b == mapper.missing_bin(f) ? node.default_left() : b <= tree.split_bin[i];
            i = left ? node.left : node.left + 1;
          }
          margin[r] += tree.nodes[i].value;
        }
      });
    }

    // Tree-local child indices are already what the model format wants.
    model.nodes.insert(model.nodes.end(), tree.nodes.begin(), tree.nodes.end());
    model.tree_offsets.push_back(static_cast<uint32_t>(model.nodes.size()));
  }

  ComputeLoss(params.objective, margin, labels, result.metrics, /*final=*/true);
  result.metrics.loss_name = params.objective == Objective::kRegression ? "rmse" : "logloss";
  result.metrics.rows = n;
  result.metrics.features = nf;
  result.metrics.trees = model.num_trees();
  result.metrics.nodes = model.nodes.size();
  // The trainer's output must be exactly what ParseModel accepts.
  if (Status s = ValidateModel(model); !s.ok())
    return Internal("trainer built an invalid model: " + s.error().message());
  return result;
}

}  // namespace cloister::functions::gbdt
