// Internal to the task_format.h helpers: the small text helpers that
// task_spec_file.cc, task_args.cc and task_display.cc share.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace cloister::cli::task_format_internal {

// Untrusted text shown back in an error: bounded.
inline std::string Shown(std::string_view s) {
  return s.size() <= 64 ? std::string(s) : std::string(s.substr(0, 64)) + "…";
}

// A number for people: integers without a fraction, others as %g.
inline std::string NumberText(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  std::ostringstream o;
  o.precision(17);
  o << d;
  return o.str();
}

inline std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

}  // namespace cloister::cli::task_format_internal
