// Histogram building and subtraction; see histogram.h.
#include "functions/gbdt/histogram.h"

#include <algorithm>

namespace cloister::functions::gbdt {
namespace {

// Upper bound on features per task (sizes the hoisted pointer array).
constexpr size_t kMaxFeaturesPerTask = 64;
// Tasks per thread per step: enough to balance uneven node sizes without
// making each task re-stream the node's rows for just one or two features.
constexpr size_t kTasksPerThread = 2;

void BuildBlock(const BinnedMatrix& bins, const BinMapper& mapper,
                std::span<const GradPair> grad, std::span<const uint32_t> rows,
                std::span<const uint32_t> feats, GradStats* hist) {
  for (uint32_t f : feats)
    std::fill_n(hist + mapper.offset(f), mapper.num_bins(f), GradStats{});
  // Per-feature base pointers hoisted out of the row loop.
  GradStats* base[kMaxFeaturesPerTask];
  const size_t nf = feats.size();
  for (size_t j = 0; j < nf; ++j) base[j] = hist + mapper.offset(feats[j]);
  const size_t stride = bins.cols();
  const uint8_t* data = bins.row_ptr(0);
  for (uint32_t r : rows) {
    const GradPair gp = grad[r];
    const uint8_t* row = data + static_cast<size_t>(r) * stride;
    for (size_t j = 0; j < nf; ++j) {
      GradStats& s = base[j][row[feats[j]]];
      s.g += gp.g;
      s.h += gp.h;
      s.n += 1;
    }
  }
}

}  // namespace

void BuildHistograms(const BinnedMatrix& bins, const BinMapper& mapper,
                     std::span<const GradPair> grad, std::span<const HistogramJob> jobs,
                     std::span<const uint32_t> features, internal::ThreadPool& pool) {
  for (const auto& job : jobs) job.hist->resize(mapper.total_bins());
  if (features.empty() || jobs.empty()) return;
  const size_t want = static_cast<size_t>(pool.size()) * kTasksPerThread;
  const size_t blocks_per_job = std::clamp<size_t>((want + jobs.size() - 1) / jobs.size(), 1,
                                                   features.size());
  size_t per_task = (features.size() + blocks_per_job - 1) / blocks_per_job;
  per_task = std::min(per_task, kMaxFeaturesPerTask);
  const size_t blocks = (features.size() + per_task - 1) / per_task;
  pool.ParallelFor(jobs.size() * blocks, [&](size_t task) {
    const HistogramJob& job = jobs[task / blocks];
    const size_t b = task % blocks;
    const size_t begin = b * per_task;
    const size_t len = std::min(per_task, features.size() - begin);
    BuildBlock(bins, mapper, grad, job.rows, features.subspan(begin, len), job.hist->data());
  });
}

void BuildHistogram(const BinnedMatrix& bins, const BinMapper& mapper,
                    std::span<const GradPair> grad, std::span<const uint32_t> rows,
                    std::span<const uint32_t> features, Histogram& hist,
                    internal::ThreadPool& pool) {
  const HistogramJob job{rows, &hist};
  BuildHistograms(bins, mapper, grad, std::span<const HistogramJob>(&job, 1), features, pool);
}

void SubtractHistogram(const BinMapper& mapper, std::span<const uint32_t> features,
                       const Histogram& parent, const Histogram& smaller, Histogram& larger) {
  larger.resize(mapper.total_bins());
  for (uint32_t f : features) {
    const uint32_t off = mapper.offset(f);
    for (uint32_t b = 0; b < mapper.num_bins(f); ++b)
      larger[off + b] = parent[off + b].Minus(smaller[off + b]);
  }
}

}  // namespace cloister::functions::gbdt
