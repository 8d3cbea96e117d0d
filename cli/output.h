// Shared output helpers of the `cloister` CLI: failure reporting (stderr +
// exit code 1), --json printing, plain tables, a progress indicator while
// waiting, and reading a secret from the terminal without echo.
//
//   if (!r.ok()) FailError("user add", r.error());
//   PrintTable({"USER", "ROLES"}, rows);
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace cloister::cli {

// Prints "cloister CMD: MSG" to stderr and throws CLI::RuntimeError(1).
[[noreturn]] void Fail(std::string_view cmd, const std::string& msg);
// Same for an Error: message, reason and a plain-words hint when one is known.
[[noreturn]] void FailError(std::string_view cmd, const Error& e);
// A one-line hint for well-known reasons ("" if none).
std::string HintFor(const Error& e);

void PrintJson(const nlohmann::json& j);
// Left-aligned columns separated by two spaces.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
// {"code": "...", "reason": "...", "message": "..."}
nlohmann::json ErrorJson(const Error& e);

// A spinner on stderr while waiting (only when stderr is a terminal and
// not in --json mode; otherwise one line at start and end).
class Progress {
 public:
  Progress(std::string what, bool quiet);
  ~Progress();
  void Tick();                      // call every ~100 ms while waiting
  void Done(std::string_view outcome);

 private:
  std::string what_;
  bool quiet_, tty_, done_ = false;
  int frame_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Reads one line. Interactive terminal: prompts on stderr with echo off.
// Otherwise (or when from_stdin) reads stdin. The trailing newline is
// dropped. InvalidArgument when nothing was read.
Result<std::string> ReadSecret(const std::string& prompt, bool from_stdin);

// Formats a unix time as "2024-05-01 12:00:00 UTC" (empty for 0).
std::string FormatUnix(int64_t unix_seconds);

}  // namespace cloister::cli
