// Caller measurement: /proc stat parsing against hostile comm fields, the
// measurement equals the file hash, and the file-identity cache.
#include "attestation/platform/measurement.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "attestation/manifest.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

TEST(MeasurementTest, ParsesStartTimeDespiteHostileComm) {
  // Fields 3..21 then starttime (22) = 123456.
  const std::string tail = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 99 100";
  EXPECT_EQ(*sys::ParseStartTime("42 (bash)" + tail), 123456u);
  EXPECT_EQ(*sys::ParseStartTime("42 (a) S 1 2 3 (x) y)" + tail), 123456u);
  EXPECT_EQ(*sys::ParseStartTime("42 ( ) ) )" + tail), 123456u);
  EXPECT_FALSE(sys::ParseStartTime("42 (bash) S 1 2").ok());
  EXPECT_FALSE(sys::ParseStartTime("no parens at all").ok());
  EXPECT_FALSE(sys::ParseStartTime("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12a4").ok());
}

TEST(MeasurementTest, OwnStartTimeIsStable) {
  auto a = sys::ProcessStartTime(::getpid());
  auto b = sys::ProcessStartTime(::getpid());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(sys::ProcessStartTime(0x3fffffff).code(), Code::kNotFound);
}

TEST(MeasurementTest, MeasurementIsHashOfExecutableAndCached) {
  Measurer m;
  auto first = m.Measure(::getpid());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto expected = HashFile(*SelfExePath());
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(first->measurement, *expected);
  EXPECT_EQ(first->tracer_pid, 0);
  EXPECT_EQ(m.cache_hits_for_test(), 0u);
  auto second = m.Measure(::getpid());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->measurement, *expected);
  EXPECT_EQ(m.cache_hits_for_test(), 1u);
}

TEST(MeasurementTest, GoneProcessIsNotFound) {
  Measurer m;
  EXPECT_EQ(m.Measure(0x3fffffff).code(), Code::kNotFound);
}

}  // namespace
}  // namespace cloister::attestation
