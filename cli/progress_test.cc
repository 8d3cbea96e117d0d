// Unit tests of the file transfer progress bar: byte, rate and ETA strings,
// the line layout, at most one redraw per 100 ms (but 100% always drawn),
// the rate restarting after a resumption, and silence when disabled.
#include "cli/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace cloister::cli {
namespace {

using namespace std::chrono_literals;

TEST(ProgressFormatTest, Bytes) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes((1u << 20) - 1), "1.0 MiB");  // never "1024.0 KiB"
  EXPECT_EQ(FormatBytes(12'900'000), "12.3 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{4} << 30), "4.0 GiB");
  EXPECT_EQ(FormatBytes(UINT64_MAX), "16.0 EiB");
}

TEST(ProgressFormatTest, Rate) {
  EXPECT_EQ(FormatRate(0), "-- B/s");
  EXPECT_EQ(FormatRate(-5), "-- B/s");
  EXPECT_EQ(FormatRate(std::nan("")), "-- B/s");
  EXPECT_EQ(FormatRate(512), "512 B/s");
  EXPECT_EQ(FormatRate(3.5 * (1 << 20)), "3.5 MiB/s");
}

TEST(ProgressFormatTest, Eta) {
  EXPECT_EQ(FormatEta(0), "0:00");
  EXPECT_EQ(FormatEta(7.4), "0:07");
  EXPECT_EQ(FormatEta(754), "12:34");
  EXPECT_EQ(FormatEta(3723), "1:02:03");
  EXPECT_EQ(FormatEta(-1), "--:--");
  EXPECT_EQ(FormatEta(1e9), "--:--");
  EXPECT_EQ(FormatEta(std::numeric_limits<double>::infinity()), "--:--");
}

TEST(ProgressFormatTest, Line) {
  EXPECT_EQ(
      FormatProgressLine("upload a.csv", 512 << 10, 1 << 20, 256 << 10),
      "upload a.csv   50% [############            ] 512.0 KiB / 1.0 MiB  256.0 KiB/s  ETA 0:02");
  EXPECT_EQ(FormatProgressLine("x", 0, 100, 0),
            "x    0% [                        ] 0 B / 100 B  -- B/s  ETA --:--");
  // More than the total (a server's rounding) never shows above 100%.
  EXPECT_NE(
      FormatProgressLine("x", 200, 100, 1).find("100% [########################] 100 B / 100 B"),
      std::string::npos);
  EXPECT_EQ(FormatProgressLine("x", 2048, 0, 1024), "x  2.0 KiB  1.0 KiB/s");
}

class FakeClock {
 public:
  std::chrono::steady_clock::time_point now{};
  ProgressBar::Clock fn() {
    return [this] { return now; };
  }
};

TEST(ProgressBarTest, RedrawsAtMostEvery100msButAlwaysAt100Percent) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar("up", true, out, clock.fn());
  for (int i = 0; i < 100; ++i) {  // 100 updates within 99 ms
    bar.Update(i, 1000);
    clock.now += 1ms;
  }
  EXPECT_EQ(bar.redraws(), 1);
  clock.now += 100ms;
  bar.Update(500, 1000);
  EXPECT_EQ(bar.redraws(), 2);
  bar.Update(1000, 1000);  // complete: drawn at once
  EXPECT_EQ(bar.redraws(), 3);
  bar.Update(1000, 1000);
  EXPECT_EQ(bar.redraws(), 3);
  bar.Finish();
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_NE(out.str().find("100%"), std::string::npos);
}

TEST(ProgressBarTest, RateIsMeasuredSinceStartAndRestartsAfterAResumption) {
  FakeClock clock;
  std::ostringstream out;
  ProgressBar bar("up", true, out, clock.fn());
  clock.now += 2s;
  bar.Update(2 << 20, 10 << 20);
  EXPECT_NE(out.str().find("1.0 MiB/s  ETA 0:08"), std::string::npos) << out.str();
  // The stream broke; the upload resumes from 1 MiB, then moves 3 MiB in 1 s.
  clock.now += 1s;
  bar.Update(1 << 20, 10 << 20);
  clock.now += 1s;
  bar.Update(4 << 20, 10 << 20);
  EXPECT_NE(out.str().find("3.0 MiB/s  ETA 0:02"), std::string::npos) << out.str();
}

TEST(ProgressBarTest, DisabledDrawsNothing) {
  std::ostringstream out;
  {
    ProgressBar bar("up", false, out);
    bar.Update(1, 2);
    bar.Update(2, 2);
    bar.Finish();
    EXPECT_EQ(bar.redraws(), 0);
  }
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressBarTest, CallbackFeedsTheBarAndDestructorEndsTheLine) {
  FakeClock clock;
  std::ostringstream out;
  {
    ProgressBar bar("down", true, out, clock.fn());
    auto cb = bar.Callback();
    cb(10, 20);
    EXPECT_EQ(bar.redraws(), 1);
  }
  EXPECT_EQ(out.str().back(), '\n');
}

}  // namespace
}  // namespace cloister::cli
