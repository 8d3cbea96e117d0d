// Batch prediction; see predictor.h. The inner loop walks a block of rows
// through one tree level by level: the rows are independent, so the CPU
// overlaps their node and feature loads instead of waiting on one pointer
// chase at a time, and the tree stays in L1 for the whole block.
#include "functions/gbdt/predictor.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "functions/gbdt/internal/thread_pool.h"

namespace cloister::functions::gbdt {
namespace {

constexpr size_t kLanes = 8;

}  // namespace

Predictor::Predictor(const Model& model, Path max_path)
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
  const bool shallow = std::all_of(depths_.begin(), depths_.end(),
                                   [](uint32_t d) { return d <= kMaxCompleteDepth; });
  Path best = Path::kScalar;
  if (shallow && __builtin_cpu_supports("avx2")) best = Path::kAvx2;
  if (shallow && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    best = Path::kAvx512;
  path_ = std::min(best, max_path);
  if (path_ != Path::kScalar) BuildCompleteLayout(model);
}

const char* Predictor::PathName(Path path) {
  switch (path) {
    case Path::kScalar:
      return "scalar";
    case Path::kAvx2:
      return "avx2";
    case Path::kAvx512:
      return "avx512";
  }
  return "?";
}

void Predictor::BuildCompleteLayout(const Model& model) {
  // Slack before the first tree and after the last for the 8- and 16-wide
  // table loads of the SIMD kernels (the AVX-512 one indexes from one before
  // a tree's first node, or up to 8 before its first leaf), so no load runs
  // past the arrays.
  constexpr size_t kSlack = 16;
  c_threshold_.assign(kSlack, 0.0f);
  c_feature_.assign(kSlack, 0);
  c_leaf_.assign(kSlack, 0.0f);
  for (size_t t = 0; t < model.num_trees(); ++t) {
    const auto tree = model.tree(t);
    const uint32_t depth = depths_[t];
    const uint32_t node_base = static_cast<uint32_t>(c_threshold_.size());
    const uint32_t leaf_base = static_cast<uint32_t>(c_leaf_.size());
    const uint32_t internal = (1u << depth) - 1;
    c_threshold_.resize(node_base + internal, 0.0f);
    c_feature_.resize(node_base + internal, 0);
    c_leaf_.resize(leaf_base + (1u << depth), 0.0f);
    // (model node, heap position, level); depth <= kMaxCompleteDepth bounds
    // the stack.
    struct Item {
      uint32_t node, pos, level;
    };
    std::vector<Item> stack = {{0, 0, 0}};
    while (!stack.empty()) {
      const Item it = stack.back();
      stack.pop_back();
      const Node& n = tree[it.node];
      if (it.level == depth) {  // only leaves reach the bottom level
        c_leaf_[leaf_base + it.pos - internal] = n.value;
        continue;
      }
      if (n.is_leaf()) {
        // Padding: either direction reaches a copy of this leaf.
        stack.push_back({it.node, 2 * it.pos + 1, it.level + 1});
        stack.push_back({it.node, 2 * it.pos + 2, it.level + 1});
      } else {
        c_threshold_[node_base + it.pos] = n.threshold;
        c_feature_[node_base + it.pos] = n.feature;
        stack.push_back({n.left, 2 * it.pos + 1, it.level + 1});
        stack.push_back({n.left + 1, 2 * it.pos + 2, it.level + 1});
      }
    }
    c_node_base_.push_back(node_base);
    c_leaf_base_.push_back(leaf_base);
  }
  c_threshold_.resize(c_threshold_.size() + kSlack, 0.0f);
  c_feature_.resize(c_feature_.size() + kSlack, 0);
  c_leaf_.resize(c_leaf_.size() + kSlack, 0.0f);
}

__attribute__((target("avx2"))) void Predictor::PredictBlockAvx2(const float* x, size_t rows,
                                                                 size_t stride, double* acc,
                                                                 float* xt) const {
  // Transpose the block to feature-major (xt[f * kBlockRows + r]): the root
  // level then needs no gather, and deeper gathers stay within a few lines.
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < stride; ++f) xt[f * kBlockRows + r] = x[r * stride + f];

  // Groups of eight rows; all groups of the block step through one tree level
  // together so the gathers of different groups overlap.
  constexpr size_t kMaxGroups = kBlockRows / kLanes;
  const size_t groups = rows / kLanes;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i feature_mask = _mm256_set1_epi32(static_cast<int>(Node::kFeatureMask));
  const __m256i two = _mm256_set1_epi32(2);
  const __m256i block_rows = _mm256_set1_epi32(static_cast<int>(kBlockRows));
  __m256i idx[kMaxGroups];
  for (size_t t = 0; t < depths_.size(); ++t) {
    const float* thr = c_threshold_.data() + c_node_base_[t];
    const int* feat = reinterpret_cast<const int*>(c_feature_.data() + c_node_base_[t]);
    for (size_t g = 0; g < groups; ++g) idx[g] = _mm256_setzero_si256();
    for (uint32_t d = 0; d < depths_[t]; ++d) {
      // Levels 0..3 have at most 8 nodes: one register each for thresholds
      // and features, indexed with a permute instead of a gather. (The
      // arrays carry 8 elements of slack, so the load never runs past them.)
      const bool small_level = d <= 3;
      const int level_start = (1 << d) - 1;
      const __m256 thr_table = _mm256_loadu_ps(thr + (small_level ? level_start : 0));
      const __m256i feat_table = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(feat + (small_level ? level_start : 0)));
      const __m256i start = _mm256_set1_epi32(level_start);
      for (size_t g = 0; g < groups; ++g) {
        __m256i f;
        __m256 th;
        if (small_level) {
          const __m256i local = _mm256_sub_epi32(idx[g], start);
          f = _mm256_permutevar8x32_epi32(feat_table, local);
          th = _mm256_permutevar8x32_ps(thr_table, local);
        } else {
          f = _mm256_i32gather_epi32(feat, idx[g], 4);
          th = _mm256_i32gather_ps(thr, idx[g], 4);
        }
        const __m256i row = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(g * kLanes)));
        const __m256i col = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_and_si256(f, feature_mask), block_rows), row);
        const __m256 v = d == 0 ? _mm256_loadu_ps(xt + static_cast<size_t>(feat[0] & Node::kFeatureMask) *
                                                           kBlockRows + g * kLanes)
                                : _mm256_i32gather_ps(xt, col, 4);
        const __m256 lt = _mm256_cmp_ps(v, th, _CMP_LT_OQ);
        const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        const __m256 dl = _mm256_castsi256_ps(_mm256_srai_epi32(f, 31));
        // -1 where the row goes left: idx = 2 idx + 2 + (-1 | 0).
        const __m256i left = _mm256_castps_si256(_mm256_or_ps(lt, _mm256_and_ps(nan, dl)));
        idx[g] = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(idx[g], idx[g]), two), left);
      }
    }
    const __m256i first_leaf = _mm256_set1_epi32(static_cast<int>((1u << depths_[t]) - 1));
    const float* leaves = c_leaf_.data() + c_leaf_base_[t];
    for (size_t g = 0; g < groups; ++g) {
      const __m256 val = _mm256_i32gather_ps(leaves, _mm256_sub_epi32(idx[g], first_leaf), 4);
      double* a = acc + g * kLanes;
      // Same double additions in the same tree order as the scalar path, so
      // both paths give bit-identical results.
      _mm256_storeu_pd(a, _mm256_add_pd(_mm256_loadu_pd(a),
                                        _mm256_cvtps_pd(_mm256_castps256_ps128(val))));
      _mm256_storeu_pd(a + 4, _mm256_add_pd(_mm256_loadu_pd(a + 4),
                                            _mm256_cvtps_pd(_mm256_extractf128_ps(val, 1))));
    }
  }
}

void Predictor::PredictBlock(const float* x, size_t rows, size_t stride, double* out,
                             float* scratch) const {
  double acc[kBlockRows];
  std::fill_n(acc, rows, base_score_);
  size_t done = 0;
  if (path_ == Path::kAvx512) {
    done = rows / 16 * 16;
    if (done > 0) PredictBlockAvx512(x, done, stride, acc, scratch);
  } else if (path_ == Path::kAvx2) {
    done = rows / kLanes * kLanes;
    if (done > 0) PredictBlockAvx2(x, done, stride, acc, scratch);
  }
  if (done < rows) PredictBlockScalar(x + done * stride, rows - done, stride, acc + done);
  std::copy_n(acc, rows, out);
}

void Predictor::PredictBlockScalar(const float* x, size_t rows, size_t stride,
                                   double* acc) const {
  uint32_t idx[kBlockRows];
  const FlatNode* nodes = nodes_.data();
  for (size_t t = 0; t < roots_.size(); ++t) {
    std::fill_n(idx, rows, roots_[t]);
    for (uint32_t d = 0; d < depths_[t]; ++d) {
      for (size_t r = 0; r < rows; ++r) {
        const FlatNode& n = nodes[idx[r]];
        const float v = x[r * stride + (n.feature & Node::kFeatureMask)];
        // NaN compares false, so a missing value goes left only by default.
        // Branch-free on purpose: the direction is a coin flip to the branch
        // predictor, and a mispredict costs more than the whole step.
        const uint32_t left =
            static_cast<uint32_t>(v < n.threshold) | (static_cast<uint32_t>(v != v) & (n.feature >> 31));
        const uint32_t mask = 0u - left;
        idx[r] = (n.left & mask) | (n.right & ~mask);
      }
    }
    for (size_t r = 0; r < rows; ++r) acc[r] += values_[idx[r]];
  }
}

Status Predictor::PredictMargin(const DenseMatrix& x, std::span<double> out,
                                int num_threads) const {
  if (x.cols() != num_features_)
    return InvalidArgument("data has " + std::to_string(x.cols()) + " features, model expects " +
                               std::to_string(num_features_),
                           "GBDT_FEATURE_MISMATCH");
  if (out.size() != x.rows()) return InvalidArgument("output size does not match row count");
  // Rows per thread task; large so threads rarely contend on the task counter.
  constexpr size_t kRowsPerTask = 32 * kBlockRows;
  const size_t rows = x.rows();
  const size_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const int threads = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(internal::ThreadPool::Resolve(num_threads)), tasks));
  internal::ThreadPool pool(threads);
  const float* data = x.data().data();
  pool.ParallelFor(tasks, [&](size_t t) {
    std::vector<float> scratch(path_ != Path::kScalar ? kBlockRows * num_features_ : 0);
    const size_t end = std::min(rows, (t + 1) * kRowsPerTask);
    for (size_t r = t * kRowsPerTask; r < end; r += kBlockRows) {
      const size_t n = std::min(kBlockRows, end - r);
      PredictBlock(data + r * num_features_, n, num_features_, out.data() + r, scratch.data());
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
