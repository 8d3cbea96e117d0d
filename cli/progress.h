// The transfer progress bar of `cloister file upload|download`: bytes, rate
// and ETA on one stderr line, redrawn at most ~10 times a second, and only
// when stderr is a terminal and the output is not --json (scripts and logs
// see nothing). The formatting functions are pure, for tests.
//
//   auto bar = ProgressBar::ForStderr("upload data.csv", g.json);
//   auto info = files->Upload(path, opts, bar->Callback());
//   bar->Finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

namespace cloister::cli {

// "0 B", "999 B", "1.0 KiB", "12.3 MiB", "4.0 GiB" (binary units).
std::string FormatBytes(uint64_t n);
// "12.3 MiB/s"; "-- B/s" when unknown (not positive).
std::string FormatRate(double bytes_per_second);
// "0:07", "12:34", "1:02:03"; "--:--" when unknown (negative, not finite,
// or 100 h and more).
std::string FormatEta(double seconds);
// One line: "LABEL  45% [#########           ] 1.2 MiB / 2.7 MiB  3.4 MiB/s  ETA 0:01".
// total 0 (unknown) shows no percentage, bar or ETA.
std::string FormatProgressLine(std::string_view label, uint64_t done, uint64_t total,
                               double bytes_per_second);

class ProgressBar {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::milliseconds kMinRedraw{100};

  // Draws on `out` only if `enabled`; `clock` defaults to steady_clock
  // (tests pass a fake one). `out` must outlive the bar.
  ProgressBar(std::string label, bool enabled, std::ostream& out, Clock clock = {});
  // Enabled iff stderr is a terminal and not `json`.
  static std::unique_ptr<ProgressBar> ForStderr(std::string label, bool json);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // Ends a drawn line, so an error message starts on its own line.
  ~ProgressBar();

  // Redraws if ≥ kMinRedraw passed since the last draw, or at 100%. A
  // `done` smaller than before (a resumed transfer) restarts the rate.
  void Update(uint64_t done, uint64_t total);
  // Draws the final state and ends the line.
  void Finish();
  // Update as a callback (sdk::ProgressFn); the bar must outlive it.
  std::function<void(uint64_t, uint64_t)> Callback();
  int redraws() const { return redraws_; }

 private:
  void Draw(std::chrono::steady_clock::time_point now);

  std::string label_;
  bool enabled_;
  std::ostream& out_;
  Clock clock_;
  bool drawn_ = false, finished_ = false;
  int redraws_ = 0;
  uint64_t done_ = 0, total_ = 0, last_drawn_done_ = 0;
  // Where the rate is measured from (reset when a transfer resumes lower).
  uint64_t base_done_ = 0;
  std::chrono::steady_clock::time_point base_time_, last_draw_;
};

}  // namespace cloister::cli
