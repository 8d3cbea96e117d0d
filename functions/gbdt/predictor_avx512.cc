// AVX-512 tree walk for Predictor (see predictor.h): 16 rows per register,
// and node tables held in registers so shallow levels need no gathers.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), a variable
// initialised with itself, which -Wmaybe-uninitialized reports at every
// inlined use (GCC bug 105593). The pragma must precede the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "functions/gbdt/predictor.h"

// Every function here runs only after the constructor checked the CPU flags.
#define CLOISTER_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))

// Unrolling hints only where they can be honoured: an unoptimised build
// (the sanitizer build is -O0) warns "ignoring loop annotation", and
// warnings are errors.
#if defined(__OPTIMIZE__)
#define CLOISTER_PRAGMA(x) _Pragma(#x)
#define CLOISTER_UNROLL(n) CLOISTER_PRAGMA(GCC unroll n)
#else
#define CLOISTER_UNROLL(n)
#endif

namespace cloister::functions::gbdt {
namespace {

constexpr size_t kLanes = 16;
// Rows of the feature-major block (Predictor::kBlockRows, checked below).
constexpr unsigned kRowsLog2 = 7;
constexpr size_t kRows = size_t{1} << kRowsLog2;

// The complete layout of Predictor's trees (see predictor.h).
struct CompleteTrees {
  size_t num_trees;
  const uint32_t* depths;
  const uint32_t* node_base;
  const uint32_t* leaf_base;
  const float* thresholds;
  const uint32_t* features;
  const float* leaves;
};

// Child in 1-based heap order (children of j at 2j, 2j + 1): the bits of j
// below its top bit are the path so far, so table permutes and the column
// blend tree use j as it is. NaN compares false for "<" and true for "not
// <", so a missing value goes right unless the node's default direction
// (bit 31 of f) says left.
CLOISTER_AVX512 inline __m512i Step(__m512i j, __m512 v, __m512 th, __m512i f) {
  const __mmask16 nan_left = _mm512_mask_cmp_ps_mask(_mm512_movepi32_mask(f), v, v, _CMP_UNORD_Q);
  const __mmask16 right = _mm512_cmp_ps_mask(v, th, _CMP_NLT_UQ) ^ nan_left;
  const __m512i twice = _mm512_add_epi32(j, j);
  return _mm512_mask_add_epi32(twice, right, twice, _mm512_set1_epi32(1));
}

// Feature values of the 16 rows starting at `group` (lane r = row r) at each
// lane's node feature, from the feature-major block: the row offset is in
// the base pointer, so every group shares one index computation pattern.
CLOISTER_AVX512 inline __m512 FeatureValues(const float* group, __m512i f) {
  const __m512i col = _mm512_add_epi32(
      _mm512_slli_epi32(_mm512_and_si512(f, _mm512_set1_epi32(Node::kFeatureMask)), kRowsLog2),
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  return _mm512_i32gather_ps(col, group, 4);
}

// Levels with at most 8 nodes: load each node's feature column for the 16
// rows (plain loads, cheaper than one gather) and pick per lane with a blend
// tree on the low bits of the lane's heap index j (bit 0 = last step).
template <int kNodes>
CLOISTER_AVX512 inline __m512 SelectColumns(const float* const* cols, size_t offset, __m512i j) {
  __m512 v[kNodes];
CLOISTER_UNROLL(8)
  for (int k = 0; k < kNodes; ++k) v[k] = _mm512_loadu_ps(cols[k] + offset);
CLOISTER_UNROLL(3)
  for (int n = kNodes, bit = 1; n > 1; n /= 2, bit *= 2) {
    const __mmask16 odd = _mm512_test_epi32_mask(j, _mm512_set1_epi32(bit));
CLOISTER_UNROLL(4)
    for (int k = 0; k < n / 2; ++k) v[k] = _mm512_mask_blend_ps(odd, v[2 * k], v[2 * k + 1]);
  }
  return v[0];
}

// One pass over every tree for kGroups × 16 rows of the feature-major block
// xt. kGroups is a template argument so the per-group state stays in
// registers and the group loops unroll: the groups are independent, so their
// gathers and permutes overlap and hide each other's latency.
template <size_t kGroups>
CLOISTER_AVX512 void Walk(const CompleteTrees& trees, const float* xt, double* acc) {
  __m512i idx[kGroups];
  for (size_t t = 0; t < trees.num_trees; ++t) {
    const uint32_t depth = trees.depths[t];
    // Heap index j is node j - 1 of the tree; the arrays carry 16 elements
    // of slack at both ends, so tables may start before a tree's first node
    // (or leaf) and end past its last.
    const float* thr = trees.thresholds + trees.node_base[t] - 1;
    const int* feat = reinterpret_cast<const int*>(trees.features + trees.node_base[t]) - 1;
    // Node tables, indexed with the low bits of j: levels 0-3 (j = 1..15) and
    // level 4 (j = 16..31) fit in one 16-entry register, level 5 (j = 32..63)
    // in two. Feature values: column loads at levels 0-3, gathers below.
    const __m512 tt = _mm512_loadu_ps(thr);
    const __m512i tf = _mm512_loadu_si512(feat);
CLOISTER_UNROLL(8)
    for (size_t g = 0; g < kGroups; ++g) idx[g] = _mm512_set1_epi32(1);
    for (uint32_t d = 0; d < depth; ++d) {
      if (d <= 3) {
        const int first = 1 << d;
        const float* cols[8] = {};
        for (int k = 0; k < first; ++k)
          cols[k] = xt + static_cast<size_t>(feat[first + k] & Node::kFeatureMask) * kRows;
CLOISTER_UNROLL(8)
        for (size_t g = 0; g < kGroups; ++g) {
          const __m512i f = _mm512_permutexvar_epi32(idx[g], tf);
          const __m512 th = _mm512_permutexvar_ps(idx[g], tt);
          const size_t off = g * kLanes;
          const __m512 v = d == 0   ? _mm512_loadu_ps(cols[0] + off)
                           : d == 1 ? SelectColumns<2>(cols, off, idx[g])
                           : d == 2 ? SelectColumns<4>(cols, off, idx[g])
                                    : SelectColumns<8>(cols, off, idx[g]);
          idx[g] = Step(idx[g], v, th, f);
        }
      } else if (d == 4) {
        const __m512 tt4 = _mm512_loadu_ps(thr + 16);
        const __m512i tf4 = _mm512_loadu_si512(feat + 16);
CLOISTER_UNROLL(8)
        for (size_t g = 0; g < kGroups; ++g) {
          const __m512i f = _mm512_permutexvar_epi32(idx[g], tf4);
          const __m512 th = _mm512_permutexvar_ps(idx[g], tt4);
          idx[g] = Step(idx[g], FeatureValues(xt + g * kLanes, f), th, f);
        }
      } else if (d == 5) {
        const __m512 tt0 = _mm512_loadu_ps(thr + 32), tt1 = _mm512_loadu_ps(thr + 48);
        const __m512i tf0 = _mm512_loadu_si512(feat + 32), tf1 = _mm512_loadu_si512(feat + 48);
CLOISTER_UNROLL(8)
        for (size_t g = 0; g < kGroups; ++g) {
          const __m512i f = _mm512_permutex2var_epi32(tf0, idx[g], tf1);
          const __m512 th = _mm512_permutex2var_ps(tt0, idx[g], tt1);
          idx[g] = Step(idx[g], FeatureValues(xt + g * kLanes, f), th, f);
        }
      } else {
CLOISTER_UNROLL(8)
        for (size_t g = 0; g < kGroups; ++g) {
          const __m512i f = _mm512_i32gather_epi32(idx[g], feat, 4);
          const __m512 th = _mm512_i32gather_ps(idx[g], thr, 4);
          idx[g] = Step(idx[g], FeatureValues(xt + g * kLanes, f), th, f);
        }
      }
    }
    // Leaf values, j = 2^depth + leaf: up to 16 leaves from one register (a
    // table starting 2^depth before the leaves when depth < 4, so the low
    // four bits of j index it), 32 from two, 64 from four (two permutes and a
    // select on bit 5); deeper trees gather.
    const float* leaves = trees.leaves + trees.leaf_base[t];
    const __m512 l0 = _mm512_loadu_ps(depth < 4 ? leaves - (1 << depth) : leaves);
    const __m512 l1 = depth >= 5 ? _mm512_loadu_ps(leaves + 16) : l0;
    const __m512 l2 = depth == 6 ? _mm512_loadu_ps(leaves + 32) : l0;
    const __m512 l3 = depth == 6 ? _mm512_loadu_ps(leaves + 48) : l0;
    const __m512i first_leaf = _mm512_set1_epi32(static_cast<int>(1u << depth));
CLOISTER_UNROLL(8)
    for (size_t g = 0; g < kGroups; ++g) {
      __m512 val;
      if (depth <= 4) {
        val = _mm512_permutexvar_ps(idx[g], l0);
      } else if (depth == 5) {
        val = _mm512_permutex2var_ps(l0, idx[g], l1);
      } else if (depth == 6) {
        const __mmask16 high = _mm512_test_epi32_mask(idx[g], _mm512_set1_epi32(32));
        val = _mm512_mask_blend_ps(high, _mm512_permutex2var_ps(l0, idx[g], l1),
                                   _mm512_permutex2var_ps(l2, idx[g], l3));
      } else {
        val = _mm512_i32gather_ps(_mm512_sub_epi32(idx[g], first_leaf), leaves, 4);
      }
      double* a = acc + g * kLanes;
      // Same double additions in the same tree order as the scalar path, so
      // all paths give bit-identical results.
      _mm512_storeu_pd(
          a, _mm512_add_pd(_mm512_loadu_pd(a), _mm512_cvtps_pd(_mm512_castps512_ps256(val))));
      _mm512_storeu_pd(a + 8, _mm512_add_pd(_mm512_loadu_pd(a + 8),
                                            _mm512_cvtps_pd(_mm512_extractf32x8_ps(val, 1))));
    }
  }
}

}  // namespace

CLOISTER_AVX512 void Predictor::PredictBlockAvx512(const float* x, size_t rows, size_t stride,
                                                   double* acc, float* xt) const {
  static_assert(kBlockRows == kRows);
  // Feature-major block, as in PredictBlockAvx2: levels 0-3 then load whole
  // columns, and deeper gathers stay within a few lines.
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < stride; ++f) xt[f * kBlockRows + r] = x[r * stride + f];
  const CompleteTrees trees = {depths_.size(),      depths_.data(),      c_node_base_.data(),
                               c_leaf_base_.data(), c_threshold_.data(), c_feature_.data(),
                               c_leaf_.data()};
  switch (rows / kLanes) {
    case 1:
      return Walk<1>(trees, xt, acc);
    case 2:
      return Walk<2>(trees, xt, acc);
    case 3:
      return Walk<3>(trees, xt, acc);
    case 4:
      return Walk<4>(trees, xt, acc);
    case 5:
      return Walk<5>(trees, xt, acc);
    case 6:
      return Walk<6>(trees, xt, acc);
    case 7:
      return Walk<7>(trees, xt, acc);
    case 8:
      return Walk<8>(trees, xt, acc);
  }
}

}  // namespace cloister::functions::gbdt
