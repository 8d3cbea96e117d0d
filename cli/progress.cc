// The transfer progress bar; see progress.h. The only terminal query is
// isatty(STDERR_FILENO), as in output.cc.
#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>

namespace cloister::cli {
namespace {

constexpr int kBarWidth = 24;

std::string Printf1(double v, const char* unit) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  return buf;
}

}  // namespace

std::string FormatBytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n) / 1024;
  size_t u = 0;
  // Switch units before "1024.0 KiB" would be printed.
  while (v >= 1023.95 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return Printf1(v, kUnits[u]);
}

std::string FormatRate(double bytes_per_second) {
  if (!(bytes_per_second > 0) || !std::isfinite(bytes_per_second)) return "-- B/s";
  const double capped = std::min(bytes_per_second, 1.8e19);
  return FormatBytes(static_cast<uint64_t>(capped)) + "/s";
}

std::string FormatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds >= 100 * 3600.0) return "--:--";
  const auto s = static_cast<uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

std::string FormatProgressLine(std::string_view label, uint64_t done, uint64_t total,
                               double bytes_per_second) {
  std::string line(label);
  if (total > 0) {
    const uint64_t shown = std::min(done, total);
    const double frac = static_cast<double>(shown) / static_cast<double>(total);
    const int filled = static_cast<int>(frac * kBarWidth);
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
    line += "  " + std::string(pct) + " [" + std::string(filled, '#') +
            std::string(kBarWidth - filled, ' ') + "] " + FormatBytes(shown) + " / " +
            FormatBytes(total) + "  " + FormatRate(bytes_per_second) + "  ETA ";
    line += bytes_per_second > 0 ? FormatEta(static_cast<double>(total - shown) / bytes_per_second)
                                 : FormatEta(-1);
  } else {
    line += "  " + FormatBytes(done) + "  " + FormatRate(bytes_per_second);
  }
  return line;
}

ProgressBar::ProgressBar(std::string label, bool enabled, std::ostream& out, Clock clock)
    : label_(std::move(label)),
      enabled_(enabled),
      out_(out),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      base_time_(clock_()) {}

std::unique_ptr<ProgressBar> ProgressBar::ForStderr(std::string label, bool json) {
  return std::make_unique<ProgressBar>(std::move(label), !json && ::isatty(STDERR_FILENO) == 1,
                                       std::cerr);
}

ProgressBar::~ProgressBar() {
  if (enabled_ && drawn_ && !finished_) out_ << "\n" << std::flush;
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || finished_) return;
  const auto now = clock_();
  if (done < done_) {
    // A resumed transfer went back to the durable offset: measure anew.
    base_done_ = done;
    base_time_ = now;
  }
  done_ = done;
  total_ = total;
  // 100% is drawn at once (the last redraw must not be throttled away), once.
  const bool newly_complete = total > 0 && done >= total && last_drawn_done_ < total;
  if (drawn_ && !newly_complete && now - last_draw_ < kMinRedraw) return;
  Draw(now);
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  Draw(clock_());
  out_ << "\n" << std::flush;
  finished_ = true;
}

std::function<void(uint64_t, uint64_t)> ProgressBar::Callback() {
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

void ProgressBar::Draw(std::chrono::steady_clock::time_point now) {
  const double secs = std::chrono::duration<double>(now - base_time_).count();
  const double rate =
      secs > 0 && done_ > base_done_ ? static_cast<double>(done_ - base_done_) / secs : 0;
  // \r and erase-to-end-of-line: one line, redrawn in place (a terminal only).
  out_ << "\r" << FormatProgressLine(label_, done_, total_, rate) << "\x1b[K" << std::flush;
  drawn_ = true;
  last_draw_ = now;
  last_drawn_done_ = done_;
  ++redraws_;
}

}  // namespace cloister::cli
