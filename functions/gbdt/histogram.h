// Gradient histograms: per node, the sum of (gradient, hessian, count) of its
// rows in every bin of every feature; built in parallel over feature blocks.
//
//   BuildHistogram(binned, mapper, grad, rows, features, hist, pool);
//   SubtractHistogram(parent, smaller_child, larger_child);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "functions/gbdt/binning.h"
#include "functions/gbdt/internal/thread_pool.h"

namespace cloister::functions::gbdt {

// Per-row first and second derivative of the loss at the current prediction.
// float like XGBoost: halves the bandwidth of the hot loop; sums are double.
struct GradPair {
  float g = 0;
  float h = 0;
};

// Sums over a set of rows. double sums keep subtraction (parent - child)
// accurate enough that sibling statistics match a direct build.
struct GradStats {
  double g = 0;
  double h = 0;
  int64_t n = 0;

  void Add(const GradStats& o) {
    g += o.g;
    h += o.h;
    n += o.n;
  }
  GradStats Minus(const GradStats& o) const { return {g - o.g, h - o.h, n - o.n}; }
};

// A histogram over all features: slot mapper.offset(f) + bin. Slots of
// features not in the build's feature set are left untouched.
using Histogram = std::vector<GradStats>;

// Fills hist (resized to mapper.total_bins()) for `rows` over `features`
// (sorted feature ids). Every slot of every listed feature is written by
// exactly one task in row order, so the result does not depend on the number
// of threads.
void BuildHistogram(const BinnedMatrix& bins, const BinMapper& mapper,
                    std::span<const GradPair> grad, std::span<const uint32_t> rows,
                    std::span<const uint32_t> features, Histogram& hist,
                    internal::ThreadPool& pool);

// Several histograms in one parallel step (one per node of a tree level), so
// small nodes deep in the tree still keep both cores busy.
struct HistogramJob {
  std::span<const uint32_t> rows;
  Histogram* hist;
};
void BuildHistograms(const BinnedMatrix& bins, const BinMapper& mapper,
                     std::span<const GradPair> grad, std::span<const HistogramJob> jobs,
                     std::span<const uint32_t> features, internal::ThreadPool& pool);

// larger = parent - smaller over the slots of `features` (the subtraction
// trick: only the smaller child of a split is built from rows).
void SubtractHistogram(const BinMapper& mapper, std::span<const uint32_t> features,
                       const Histogram& parent, const Histogram& smaller, Histogram& larger);

}  // namespace cloister::functions::gbdt
