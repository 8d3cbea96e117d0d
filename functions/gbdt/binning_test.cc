// Tests for quantile binning (binning.h): the bin/threshold equivalence that
// training and prediction rely on, missing bins and bin limits.
#include "functions/gbdt/binning.h"

#include <gtest/gtest.h>

#include <cmath>

#include "functions/gbdt/testing/synthetic_data.h"

namespace cloister::functions::gbdt {
namespace {

TEST(BinningTest, BinAtMostSplitIffBelowCut) {
  auto d = testing::MakeSynthetic(5000, 6, Objective::kRegression, 7, 0.1);
  internal::ThreadPool pool(2);
  const BinMapper m = BinMapper::Fit(d.x, 64, pool);
  const BinnedMatrix b = m.Transform(d.x, pool);
  for (size_t f = 0; f < 6; ++f) {
    ASSERT_LE(m.num_value_bins(f), 63u);
    ASSERT_GE(m.num_value_bins(f), 2u);
    for (size_t r = 0; r < d.x.rows(); ++r) {
      const float v = d.x.at(r, f);
      const uint8_t bin = b.at(r, f);
      if (std::isnan(v)) {
        ASSERT_EQ(bin, m.missing_bin(f));
        continue;
      }
      ASSERT_LT(bin, m.num_value_bins(f));
      for (uint32_t s = 0; s + 1 < m.num_value_bins(f); s += 7)
        ASSERT_EQ(bin <= s, v < m.cut(f, s)) << "f=" << f << " r=" << r << " s=" << s;
    }
  }
}

TEST(BinningTest, LowCardinalityGetsOneBinPerValue) {
  DenseMatrix x(100, 2);
  for (size_t r = 0; r < 100; ++r) {
    x.at(r, 0) = static_cast<float>(r % 3);
    x.at(r, 1) = std::nanf("");
  }
  internal::ThreadPool pool(1);
  const BinMapper m = BinMapper::Fit(x, 256, pool);
  EXPECT_EQ(m.num_value_bins(0), 3u);
  EXPECT_EQ(m.BinOf(0, 0.0f), 0);
  EXPECT_EQ(m.BinOf(0, 1.0f), 1);
  EXPECT_EQ(m.BinOf(0, 2.0f), 2);
  EXPECT_EQ(m.BinOf(0, 99.0f), 2);
  EXPECT_EQ(m.BinOf(0, -5.0f), 0);
  // All-missing feature: one (empty) value bin plus the missing bin.
  EXPECT_EQ(m.num_value_bins(1), 1u);
  EXPECT_EQ(m.BinOf(1, std::nanf("")), m.missing_bin(1));
  EXPECT_EQ(m.total_bins(), 4u + 2u);
}

TEST(BinningTest, MaxBinsBoundsValueBins) {
  auto d = testing::MakeSynthetic(3000, 6, Objective::kRegression, 3, 0.0);
  internal::ThreadPool pool(2);
  for (int max_bins : {2, 16, 256}) {
    const BinMapper m = BinMapper::Fit(d.x, max_bins, pool);
    for (size_t f = 0; f < 6; ++f) {
      EXPECT_LE(m.num_bins(f), static_cast<uint32_t>(max_bins));
      EXPECT_LE(m.missing_bin(f), 255);
    }
  }
}

}  // namespace
}  // namespace cloister::functions::gbdt
