// DenseMatrix: the row-major float feature matrix the GBDT trainer and
// predictor consume; NaN marks a missing value.
//
//   DenseMatrix x(rows, cols);
//   x.at(r, c) = 1.5f;
//   std::span<const float> row = x.row(r);
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

namespace cloister::functions::gbdt {

// Row-major because both hot loops (histogram building over the binned copy,
// and tree traversal) read all features of one row together.
class DenseMatrix {
 public:
  DenseMatrix() = default;
  DenseMatrix(size_t rows, size_t cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0f) {}

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  float& at(size_t r, size_t c) { return data_[r * cols_ + c]; }
  float at(size_t r, size_t c) const { return data_[r * cols_ + c]; }
  std::span<const float> row(size_t r) const {
    return std::span<const float>(data_).subspan(r * cols_, cols_);
  }
  std::span<const float> data() const { return data_; }
  std::span<float> mutable_data() { return data_; }

  static bool IsMissing(float v) { return std::isnan(v); }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float> data_;
};

}  // namespace cloister::functions::gbdt
