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
  // Requires ValidateModel(model).ok(); keeps its own copy of what it needs.
  explicit Predictor(const Model& model);

  size_t num_features() const { return num_features_; }

  // out[r] = base_score + sum of tree outputs for row r of x (the margin).
  // InvalidArgument if x.cols() != num_features() or out.size() != x.rows().
  Status PredictMargin(const DenseMatrix& x, std::span<double> out, int num_threads) const;
  // Margin for regression, P(label = 1) = sigmoid(margin) for binary.
  Status Predict(const DenseMatrix& x, std::span<double> out, int num_threads) const;

 private:
  // 16 bytes, four per cache line. Leaves point at themselves, so every tree
  // can be walked for exactly its depth with no leaf test in the inner loop.
  struct FlatNode {
    float threshold;
    uint32_t feature;  // bit 31: missing goes left
    uint32_t left;     // global indices into nodes_
    uint32_t right;
  };
  static_assert(sizeof(FlatNode) == 16);

  // scratch: kBlockRows * num_features_ floats when use_avx2_.
  void PredictBlock(const float* x, size_t rows, size_t stride, double* out,
                    float* scratch) const;
  void PredictBlockScalar(const float* x, size_t rows, size_t stride, double* acc) const;
  void BuildCompleteLayout(const Model& model);
  // Walks rows (a multiple of 8) with AVX2 gathers over the complete layout.
  void PredictBlockAvx2(const float* x, size_t rows, size_t stride, double* acc,
                        float* xt) const;

  Objective objective_;
  double base_score_;
  size_t num_features_;
  std::vector<FlatNode> nodes_;
  std::vector<float> values_;     // leaf value per global node (0 for internal)
  std::vector<uint32_t> roots_;   // global index of each tree's root
  std::vector<uint32_t> depths_;  // depth of each tree (0 = a single leaf)

  // Complete layout, used with AVX2 when every tree is at most
  // kMaxCompleteDepth deep: tree t is a perfect binary tree of depth
  // depths_[t] in heap order (children of i at 2i+1, 2i+2), shorter paths
  // padded with nodes whose two subtrees repeat the same leaf. No child
  // pointers to load, and the eight rows of a SIMD lane group step together.
  bool use_avx2_ = false;
  std::vector<float> c_threshold_;   // per internal node
  std::vector<uint32_t> c_feature_;  // per internal node, bit 31 = default left
  std::vector<float> c_leaf_;        // 2^depth per tree
  std::vector<uint32_t> c_node_base_, c_leaf_base_;
};

}  // namespace cloister::functions::gbdt
