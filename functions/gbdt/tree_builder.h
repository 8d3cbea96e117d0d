// Grows one regression tree on gradient histograms, level by level (like
// XGBoost's depthwise hist updater), learning a default direction for missing
// values at every split.
//
//   TreeBuilder b(binned, mapper, params, pool);
//   BuiltTree t = b.Build(grad, rows, features);   // rows regrouped by leaf
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "functions/gbdt/binning.h"
#include "functions/gbdt/gbdt_params.h"
#include "functions/gbdt/histogram.h"
#include "functions/gbdt/internal/thread_pool.h"
#include "functions/gbdt/model.h"

namespace cloister::functions::gbdt {

struct BuiltTree {
  // Model layout (children appended in pairs), leaf values already scaled by
  // the learning rate.
  std::vector<Node> nodes;
  // For internal nodes: go left iff bin <= split_bin (or missing and default
  // left). Lets the trainer route rows on the binned matrix.
  std::vector<uint8_t> split_bin;
  // After Build, rows[begin, end) are the rows that reached leaf `node`.
  struct LeafRange {
    uint32_t node;
    uint32_t begin;
    uint32_t end;
  };
  std::vector<LeafRange> leaves;
};

// Holds references to its arguments, which must outlive it; reuses histogram
// buffers across Build calls. Not thread-safe (it drives the pool itself).
class TreeBuilder {
 public:
  TreeBuilder(const BinnedMatrix& bins, const BinMapper& mapper, const GbdtParams& params,
              internal::ThreadPool& pool);

  // Upper bound on histogram bytes live at once for `rows` rows, used to
  // refuse parameter combinations that would exhaust memory.
  static uint64_t PeakHistogramBytes(const BinMapper& mapper, const GbdtParams& params,
                                     size_t rows);

  // grad: one pair per row of the matrix. rows: the rows this tree learns
  // from (any order); reordered so each leaf's rows are contiguous.
  // features: sorted ids the tree may split on.
  BuiltTree Build(std::span<const GradPair> grad, std::span<uint32_t> rows,
                  std::span<const uint32_t> features);

 private:
  struct Split {
    double gain = 0;
    uint32_t feature = 0;
    uint32_t bin = 0;
    bool default_left = false;
    GradStats left, right;
    bool valid = false;
  };
  struct NodeWork {
    uint32_t node;
    uint32_t begin, end;
    GradStats sum;
    Histogram* hist;  // not owned; null when this node will not be split
  };

  Split FindSplit(const NodeWork& w, std::span<const uint32_t> features) const;
  float LeafValue(const GradStats& s) const;
  Histogram* AcquireHistogram();
  void ReleaseHistogram(Histogram* h);

  const BinnedMatrix& bins_;
  const BinMapper& mapper_;
  const GbdtParams& params_;
  internal::ThreadPool& pool_;
  std::vector<std::unique_ptr<Histogram>> hist_storage_;
  std::vector<Histogram*> free_hists_;  // points into hist_storage_
  std::vector<uint32_t> scratch_;       // partition buffer
};

}  // namespace cloister::functions::gbdt
