// Depthwise tree growth on histograms; see tree_builder.h.
//
// Per level: (1) best split of every open node from its histogram, (2) stable
// partition of each node's rows into its children, (3) histograms of the
// smaller child of every split built from rows in one parallel step, the
// larger sibling derived as parent - smaller (histogram subtraction).
#include "functions/gbdt/tree_builder.h"

#include <algorithm>
#include <cmath>

namespace cloister::functions::gbdt {
namespace {

// XGBoost's kRtEps: splits gaining less than this are noise.
constexpr double kMinGain = 1e-6;

}  // namespace

TreeBuilder::TreeBuilder(const BinnedMatrix& bins, const BinMapper& mapper,
                         const GbdtParams& params, internal::ThreadPool& pool)
    : bins_(bins), mapper_(mapper), params_(params), pool_(pool) {}

uint64_t TreeBuilder::PeakHistogramBytes(const BinMapper& mapper, const GbdtParams& params,
                                         size_t rows) {
  // Nodes needing a histogram exist on levels 0 .. max_depth-1; while level
  // d+1 is built, level d is still live: 2^d + 2^(d+1) histograms. Each such
  // node also holds at least 2 * min_samples_leaf rows.
  const int d = params.max_depth;
  const uint64_t by_depth = d >= 2 ? 3ull << (d - 2) : 1;
  const uint64_t by_rows =
      2 * (rows / static_cast<uint64_t>(2 * params.min_samples_leaf)) + 1;
  return std::min(by_depth, by_rows) * mapper.total_bins() * sizeof(GradStats);
}

float TreeBuilder::LeafValue(const GradStats& s) const {
  const double denom = s.h + params_.lambda;
  if (denom <= 0) return 0.0f;
  return static_cast<float>(-s.g / denom * params_.learning_rate);
}

Histogram* TreeBuilder::AcquireHistogram() {
  if (free_hists_.empty()) {
    hist_storage_.push_back(std::make_unique<Histogram>());
    return hist_storage_.back().get();
  }
  Histogram* h = free_hists_.back();
  free_hists_.pop_back();
  return h;
}

void TreeBuilder::ReleaseHistogram(Histogram* h) {
  if (h != nullptr) free_hists_.push_back(h);
}

TreeBuilder::Split TreeBuilder::FindSplit(const NodeWork& w,
                                          std::span<const uint32_t> features) const {
  Split best;
  best.gain = kMinGain;
  const double lambda = params_.lambda;
  const double mcw = params_.min_child_weight;
  const int64_t msl = params_.min_samples_leaf;
  const GradStats total = w.sum;
  const double parent_score = total.h + lambda > 0 ? total.g * total.g / (total.h + lambda) : 0;
  const Histogram& hist = *w.hist;

  auto consider = [&](const GradStats& l, uint32_t f, uint32_t s, bool dl) {
    const GradStats r = total.Minus(l);
    if (l.n < msl || r.n < msl || l.h < mcw || r.h < mcw) return;
    const double dl_h = l.h + lambda, dr_h = r.h + lambda;
    if (dl_h <= 0 || dr_h <= 0) return;
    const double gain = l.g * l.g / dl_h + r.g * r.g / dr_h - parent_score;
    if (gain > best.gain) best = {gain, f, s, dl, l, r, true};
  };

  for (uint32_t f : features) {
    const uint32_t off = mapper_.offset(f);
    const uint32_t nvb = mapper_.num_value_bins(f);
    const GradStats miss = hist[off + nvb];
    GradStats acc;
    // Splitting after the last value bin would send all values one way; the
    // value-vs-missing split it could express is left out, as it is rare.
    for (uint32_t s = 0; s + 1 < nvb; ++s) {
      acc.Add(hist[off + s]);
      consider(acc, f, s, /*dl=*/false);
      if (miss.n > 0) {
        GradStats with_missing = acc;
        with_missing.Add(miss);
        consider(with_missing, f, s, /*dl=*/true);
      }
    }
  }
  return best;
}

BuiltTree TreeBuilder::Build(std::span<const GradPair> grad, std::span<uint32_t> rows,
                             std::span<const uint32_t> features) {
  BuiltTree tree;
  tree.nodes.emplace_back();
  tree.split_bin.push_back(0);
  std::sort(rows.begin(), rows.end());  // sequential access in histogram builds
  scratch_.resize(rows.size());

  GradStats root_sum;
  for (uint32_t r : rows) {
    root_sum.g += grad[r].g;
    root_sum.h += grad[r].h;
  }
  root_sum.n = static_cast<int64_t>(rows.size());

  const int64_t msl = params_.min_samples_leaf;
  auto splittable = [&](int depth, const GradStats& s) {
    return depth < params_.max_depth && s.n >= 2 * msl;
  };

  std::vector<NodeWork> level;
  level.push_back({0, 0, static_cast<uint32_t>(rows.size()), root_sum, nullptr});
  if (splittable(0, root_sum)) {
    level[0].hist = AcquireHistogram();
    BuildHistogram(bins_, mapper_, grad, rows, features, *level[0].hist, pool_);
  }

  auto make_leaf = [&](const NodeWork& w) {
    tree.nodes[w.node].value = LeafValue(w.sum);
    tree.leaves.push_back({w.node, w.begin, w.end});
  };

  for (int depth = 0; !level.empty(); ++depth) {
    // (1) Best split per node.
    std::vector<Split> splits(level.size());
    pool_.ParallelFor(level.size(), [&](size_t i) {
      if (level[i].hist != nullptr) splits[i] = FindSplit(level[i], features);
    });

    // (2) Partition rows of every split node, in parallel: node ranges are
    // disjoint, and each uses the same range of scratch_.
    std::vector<uint32_t> mids(level.size(), 0);
    pool_.ParallelFor(level.size(), [&](size_t i) {
      if (!splits[i].valid) return;
      const Split& s = splits[i];
      const NodeWork& w = level[i];
      const uint8_t missing = mapper_.missing_bin(s.feature);
      uint32_t l = w.begin, r = w.begin;
      for (uint32_t k = w.begin; k < w.end; ++k) {
        const uint32_t row = rows[k];
        const uint8_t b = bins_.at(row, s.feature);
        const bool left = b == missing ? s.default_left : b <= s.bin;
        if (left) rows[l++] = row;
        else scratch_[r++] = row;
      }
      std::copy(scratch_.begin() + w.begin, scratch_.begin() + r, rows.begin() + l);
      mids[i] = l;
    });

    std::vector<NodeWork> next;
    std::vector<HistogramJob> jobs;
    struct Subtraction {
      const Histogram* parent;
      const Histogram* smaller;
      Histogram* larger;
    };
    std::vector<Subtraction> subs;
    for (size_t i = 0; i < level.size(); ++i) {
      const NodeWork& w = level[i];
      const Split& s = splits[i];
      if (!s.valid) {
        make_leaf(w);
        continue;
      }
      const uint32_t left_id = static_cast<uint32_t>(tree.nodes.size());
      Node& n = tree.nodes[w.node];
      n.left = left_id;
      n.feature = s.feature | (s.default_left ? Node::kDefaultLeft : 0);
      n.threshold = mapper_.cut(s.feature, s.bin);
      tree.split_bin[w.node] = static_cast<uint8_t>(s.bin);
      tree.nodes.emplace_back();
      tree.nodes.emplace_back();
      tree.split_bin.resize(tree.nodes.size(), 0);

      NodeWork lw{left_id, w.begin, mids[i], s.left, nullptr};
      NodeWork rw{left_id + 1, mids[i], w.end, s.right, nullptr};
      const bool split_l = splittable(depth + 1, lw.sum);
      const bool split_r = splittable(depth + 1, rw.sum);
      const bool left_smaller = lw.sum.n <= rw.sum.n;
      NodeWork& small = left_smaller ? lw : rw;
      NodeWork& large = left_smaller ? rw : lw;
      const bool need_small = left_smaller ? split_l : split_r;
      const bool need_large = left_smaller ? split_r : split_l;
      if (need_small || need_large) {
        // The smaller child's histogram is needed either for itself or to
        // derive the larger one.
        small.hist = AcquireHistogram();
        jobs.push_back({rows.subspan(small.begin, small.end - small.begin), small.hist});
      }
      if (need_large) {
        large.hist = AcquireHistogram();
        subs.push_back({w.hist, small.hist, large.hist});
      }
      next.push_back(lw);
      next.push_back(rw);
    }

    // (3) New histograms, then subtraction for the siblings.
    BuildHistograms(bins_, mapper_, grad, jobs, features, pool_);
    pool_.ParallelFor(subs.size(), [&](size_t i) {
      SubtractHistogram(mapper_, features, *subs[i].parent, *subs[i].smaller, *subs[i].larger);
    });
    for (const NodeWork& w : level) ReleaseHistogram(w.hist);
    // A smaller child built only for subtraction is not split itself.
    for (NodeWork& w : next) {
      if (w.hist != nullptr && !splittable(depth + 1, w.sum)) {
        ReleaseHistogram(w.hist);
        w.hist = nullptr;
      }
    }
    level = std::move(next);
  }
  return tree;
}

}  // namespace cloister::functions::gbdt
