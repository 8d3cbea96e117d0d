// Batch prediction; see predictor.h. The inner loop walks a block of rows
// through one tree level by level: the rows are independent, so the CPU
// overlaps their node and feature loads instead of waiting on one pointer
// chase at a time, and the tree stays in L1 for the whole block.
#include "functions/gbdt/predictor.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "functions/gbdt/internal/thread_pool.h"

namespace cloister::functions::gbdt {
namespace {

// 64 rows × 20 features × 4 bytes = 5 KiB of features per block: the block
// and the current tree both fit in L1.
constexpr size_t kBlockRows = 64;
// Rows per thread task; large so threads rarely contend on the task counter.
constexpr size_t kRowsPerTask = 64 * kBlockRows;

}  // namespace

Predictor::Predictor(const Model& model)
    : objective_(model.objective),
      base_score_(model.base_score),
      num_features_(model.num_features()) {
  nodes_.resize(model.nodes.size());
  values_.resize(model.nodes.size());
  for (size_t t = 0; t < model.num_trees(); ++t) {
    const uint32_t base = model.tree_offsets[t];
    const auto tree = model.tree(t);
    std::vector<uint32_t> depth(tree.size(), 0);
    uint32_t max_depth = 0;
    for (uint32_t i = 0; i < tree.size(); ++i) {
      const Node& n = tree[i];
      FlatNode& f = nodes_[base + i];
      max_depth = std::max(max_depth, depth[i]);
      if (n.is_leaf()) {
        f = {0.0f, 0, base + i, base + i};
        values_[base + i] = n.value;
      } else {
        f = {n.threshold, n.feature, base + n.left, base + n.left + 1};
        values_[base + i] = 0.0f;
        depth[n.left] = depth[n.left + 1] = depth[i] + 1;
      }
    }
    roots_.push_back(base);
    depths_.push_back(max_depth);
  }
}

void Predictor::PredictBlock(const float* x, size_t rows, size_t stride, double* out) const {
  double acc[kBlockRows];
  uint32_t idx[kBlockRows];
  std::fill_n(acc, rows, base_score_);
  const FlatNode* nodes = nodes_.data();
  for (size_t t = 0; t < roots_.size(); ++t) {
    std::fill_n(idx, rows, roots_[t]);
    for (uint32_t d = 0; d < depths_[t]; ++d) {
      for (size_t r = 0; r < rows; ++r) {
        const FlatNode& n = nodes[idx[r]];
        const float v = x[r * stride + (n.feature & Node::kFeatureMask)];
        // NaN compares false, so a missing value goes left only by default.
        const bool left = (v < n.threshold) | (std::isnan(v) & (n.feature >> 31));
        idx[r] = left ? n.left : n.right;
      }
    }
    for (size_t r = 0; r < rows; ++r) acc[r] += values_[idx[r]];
  }
  std::copy_n(acc, rows, out);
}

Status Predictor::PredictMargin(const DenseMatrix& x, std::span<double> out,
                                int num_threads) const {
  if (x.cols() != num_features_)
    return InvalidArgument("data has " + std::to_string(x.cols()) + " features, model expects " +
                               std::to_string(num_features_),
                           "GBDT_FEATURE_MISMATCH");
  if (out.size() != x.rows()) return InvalidArgument("output size does not match row count");
  const size_t rows = x.rows();
  const size_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const int threads = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(internal::ThreadPool::Resolve(num_threads)), tasks));
  internal::ThreadPool pool(threads);
  const float* data = x.data().data();
  pool.ParallelFor(tasks, [&](size_t t) {
    const size_t end = std::min(rows, (t + 1) * kRowsPerTask);
    for (size_t r = t * kRowsPerTask; r < end; r += kBlockRows) {
      const size_t n = std::min(kBlockRows, end - r);
      PredictBlock(data + r * num_features_, n, num_features_, out.data() + r);
    }
  });
  return OkStatus();
}

Status Predictor::Predict(const DenseMatrix& x, std::span<double> out, int num_threads) const {
  CLOISTER_RETURN_IF_ERROR(PredictMargin(x, out, num_threads));
  if (objective_ == Objective::kBinary)
    for (double& v : out) v = 1.0 / (1.0 + std::exp(-v));
  return OkStatus();
}

}  // namespace cloister::functions::gbdt
