// Quantile cut selection and matrix binning; see binning.h for the layout.
#include "functions/gbdt/binning.h"

#include <algorithm>

namespace cloister::functions::gbdt {
namespace {

// Cuts for one feature: every distinct value when they fit (exact splits on
// low-cardinality features), else evenly spaced order statistics.
std::vector<float> FitCuts(std::vector<float> values, uint32_t max_value_bins) {
  std::vector<float> cuts;
  if (values.empty()) return cuts;
  std::sort(values.begin(), values.end());
  std::vector<float> distinct;
  for (float v : values) {
    if (distinct.empty() || v > distinct.back()) distinct.push_back(v);
    if (distinct.size() > max_value_bins) break;
  }
  if (distinct.size() <= max_value_bins) {
    cuts.assign(distinct.begin() + 1, distinct.end());
    return cuts;
  }
  const size_t n = values.size();
  for (uint32_t k = 1; k < max_value_bins; ++k) {
    const float c = values[k * n / max_value_bins];
    if (c > values.front() && (cuts.empty() || c > cuts.back())) cuts.push_back(c);
  }
  return cuts;
}

}  // namespace

BinMapper BinMapper::Fit(const DenseMatrix& x, int max_bins, internal::ThreadPool& pool) {
  BinMapper m;
  const size_t nf = x.cols();
  m.cuts_.resize(nf);
  const uint32_t max_value_bins = static_cast<uint32_t>(std::clamp(max_bins, 2, 256) - 1);
  pool.ParallelFor(nf, [&](size_t f) {
    std::vector<float> values;
    values.reserve(x.rows());
    for (size_t r = 0; r < x.rows(); ++r) {
      const float v = x.at(r, f);
      if (!DenseMatrix::IsMissing(v)) values.push_back(v);
    }
    m.cuts_[f] = FitCuts(std::move(values), max_value_bins);
  });
  m.offsets_.resize(nf + 1);
  m.offsets_[0] = 0;
  for (size_t f = 0; f < nf; ++f) m.offsets_[f + 1] = m.offsets_[f] + m.num_bins(f);
  return m;
}

uint8_t BinMapper::BinOf(size_t f, float v) const {
  if (DenseMatrix::IsMissing(v)) return missing_bin(f);
  const auto& c = cuts_[f];
  return static_cast<uint8_t>(std::upper_bound(c.begin(), c.end(), v) - c.begin());
}

BinnedMatrix BinMapper::Transform(const DenseMatrix& x, internal::ThreadPool& pool) const {
  BinnedMatrix b(x.rows(), x.cols());
  auto out = b.mutable_data();
  const size_t nf = x.cols();
  constexpr size_t kRowsPerTask = 4096;
  const size_t tasks = (x.rows() + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(tasks, [&](size_t t) {
    const size_t end = std::min(x.rows(), (t + 1) * kRowsPerTask);
    for (size_t r = t * kRowsPerTask; r < end; ++r)
      for (size_t f = 0; f < nf; ++f) out[r * nf + f] = BinOf(f, x.at(r, f));
  });
  return b;
}

}  // namespace cloister::functions::gbdt
