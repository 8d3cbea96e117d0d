// Quantile binning: per-feature cut points (fitted once on the training
// data) and the uint8 binned copy of the matrix that histograms are built on.
//
//   BinMapper m = BinMapper::Fit(x, /*max_bins=*/256, pool);
//   BinnedMatrix b = m.Transform(x, pool);   // b.at(r, f) < m.num_bins(f)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "functions/gbdt/dense_matrix.h"
#include "functions/gbdt/internal/thread_pool.h"

namespace cloister::functions::gbdt {

class BinnedMatrix;

// Bin layout of feature f with cuts c[0] < c[1] < ... < c[k-1]:
//   value bin b (0 <= b <= k) holds c[b-1] <= x < c[b]  (open ends at ±inf),
//   bin k+1 holds missing values.
// So "bin <= s" is exactly "x < c[s]" for any non-missing x: a split found on
// bins becomes the float threshold c[s] with no rounding disagreement between
// training (bins) and prediction (raw floats).
class BinMapper {
 public:
  // max_bins counts the missing bin, so each feature gets at most
  // max_bins - 1 value bins (2 <= max_bins <= 256).
  static BinMapper Fit(const DenseMatrix& x, int max_bins, internal::ThreadPool& pool);

  size_t num_features() const { return cuts_.size(); }
  // Value bins of feature f (>= 1).
  uint32_t num_value_bins(size_t f) const { return static_cast<uint32_t>(cuts_[f].size()) + 1; }
  // The bin id used for missing values of f; also one past the value bins.
  uint8_t missing_bin(size_t f) const { return static_cast<uint8_t>(cuts_[f].size() + 1); }
  // Histogram slots of f: value bins plus the missing bin.
  uint32_t num_bins(size_t f) const { return num_value_bins(f) + 1; }
  // Offset of feature f's slots in a histogram holding all features.
  uint32_t offset(size_t f) const { return offsets_[f]; }
  uint32_t total_bins() const { return offsets_.back(); }
  // The threshold for "bin <= s"; requires s < num_value_bins(f) - 1.
  float cut(size_t f, uint32_t s) const { return cuts_[f][s]; }

  uint8_t BinOf(size_t f, float v) const;
  // Requires x.cols() == num_features().
  BinnedMatrix Transform(const DenseMatrix& x, internal::ThreadPool& pool) const;

 private:
  std::vector<std::vector<float>> cuts_;
  std::vector<uint32_t> offsets_;  // num_features + 1 entries
};

// Row-major uint8 bin ids: a quarter of the float matrix, so the histogram
// pass streams 4x less memory.
class BinnedMatrix {
 public:
  BinnedMatrix() = default;
  BinnedMatrix(size_t rows, size_t cols) : rows_(rows), cols_(cols), bins_(rows * cols) {}
  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  uint8_t at(size_t r, size_t c) const { return bins_[r * cols_ + c]; }
  const uint8_t* row_ptr(size_t r) const { return bins_.data() + r * cols_; }
  std::span<uint8_t> mutable_data() { return bins_; }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<uint8_t> bins_;
};

}  // namespace cloister::functions::gbdt
