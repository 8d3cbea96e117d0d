// Fast batch prediction for a Model: a flat copy of all trees in one array,
// rows evaluated in blocks tree-by-tree on all cores.
//
//   Predictor p(model);                       // model passed ValidateModel
//   std::vector<double> y(x.rows());
//   CLOISTER_RETURN_IF_ERROR(p.Predict(x, y, /*num_threads=*/0));
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "functions/gbdt/dense_matrix.h"
#include "functions/gbdt/model.h"

namespace cloister::functions::gbdt {

// Immutable after construction; Predict may be called from many threads.
class Predictor {
 public:
  // Tree-walk kernels, slowest to fastest. All give bit-identical results.
  enum class Path { kScalar, kAvx2, kAvx512 };

  // Requires ValidateModel(model).ok(); keeps its own copy of what it needs.
  // Uses the fastest path up to max_path that the CPU and the model allow
  // (SIMD paths need every tree at most 10 deep); a lower
  // max_path exists so tests and benchmarks can compare the paths.
  explicit Predictor(const Model& model, Path max_path = Path::kAvx512);

  size_t num_features() const { return num_features_; }
  Path path() const { return path_; }
  static const char* PathName(Path path);

  // out[r] = base_score + sum of tree outputs for row r of x (the margin).
  // InvalidArgument if x.cols() != num_features() or out.size() != x.rows().
  Status PredictMargin(const DenseMatrix& x, std::span<double> out, int num_threads) const;
  // Margin for regression, P(label = 1) = sigmoid(margin) for binary.
  Status Predict(const DenseMatrix& x, std::span<double> out, int num_threads) const;

 private:
  // 128 rows × 20 features × 4 bytes = 10 KiB of features per block: the
  // block and the current tree both fit in L1, and the AVX-512 kernel gets
  // eight independent 16-row groups to overlap.
  static constexpr size_t kBlockRows = 128;
  // 2^10 leaves per tree at most: deeper trees would make the padded layout
  // large and sparse, so such models use the pointer walk.
  static constexpr uint32_t kMaxCompleteDepth = 10;

  // 16 bytes, four per cache line. Leaves point at themselves, so every tree
  // can be walked for exactly its depth with no leaf test in the inner loop.
  struct FlatNode {
    float threshold;
    uint32_t feature;  // bit 31: missing goes left
    uint32_t left;     // global indices into nodes_
    uint32_t right;
  };
  static_assert(sizeof(FlatNode) == 16);

  // scratch: kBlockRows * num_features_ floats unless path_ is kScalar.
  void PredictBlock(const float* x, size_t rows, size_t stride, double* out,
                    float* scratch) const;
  void PredictBlockScalar(const float* x, size_t rows, size_t stride, double* acc) const;
  void BuildCompleteLayout(const Model& model);
  // Walks rows (a multiple of 8) with AVX2 gathers over the complete layout.
  void PredictBlockAvx2(const float* x, size_t rows, size_t stride, double* acc,
                        float* xt) const;
  // The same walk with 16 lanes (rows a multiple of 16): nodes of levels
  // 0-5 and up to 64 leaves come from permutes of table registers, feature
  // values of levels 0-3 from plain column loads, so a depth-6 tree needs
  // two gathers per 16 rows. Defined in predictor_avx512.cc.
  void PredictBlockAvx512(const float* x, size_t rows, size_t stride, double* acc, float* xt) const;

  Objective objective_;
  double base_score_;
  size_t num_features_;
  std::vector<FlatNode> nodes_;
  std::vector<float> values_;     // leaf value per global node (0 for internal)
  std::vector<uint32_t> roots_;   // global index of each tree's root
  std::vector<uint32_t> depths_;  // depth of each tree (0 = a single leaf)

  // Complete layout, used by the SIMD paths when every tree is at most
  // kMaxCompleteDepth deep: tree t is a perfect binary tree of depth
  // depths_[t] in heap order (children of i at 2i+1, 2i+2), shorter paths
  // padded with nodes whose two subtrees repeat the same leaf. No child
  // pointers to load, and the eight rows of a SIMD lane group step together.
  Path path_ = Path::kScalar;
  std::vector<float> c_threshold_;   // per internal node
  std::vector<uint32_t> c_feature_;  // per internal node, bit 31 = default left
  std::vector<float> c_leaf_;        // 2^depth per tree
  std::vector<uint32_t> c_node_base_, c_leaf_base_;
};

}  // namespace cloister::functions::gbdt
