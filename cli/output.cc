// CLI output helpers; see output.h. Wraps termios for echo-less password
// input (the only terminal C API the CLI touches).
#include "cli/output.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "cli/command_registry.h"

namespace cloister::cli {

void Fail(std::string_view cmd, const std::string& msg) {
  std::cerr << "cloister " << cmd << ": " << msg << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

std::string HintFor(const Error& e) {
  static const std::map<std::string, std::string> kHints = {
      {"NOT_LOGGED_IN", "run `cloister login` first"},
      {"GATEWAY_UNREACHABLE", "is the cluster running? try `cloister cluster status`"},
      {"GATEWAY_ATTESTATION_REFUSED",
       "the gateway is not a binary the cluster's signed manifest allows; "
       "`cloister attest gateway` explains why"},
      {"TOKEN_EXPIRED", "your session expired: run `cloister login` again"},
      {"TOKEN_REVOKED", "your session was revoked: run `cloister login` again"},
  };
  auto it = kHints.find(e.reason());
  if (it != kHints.end()) return it->second;
  if (e.code() == Code::kUnauthenticated) return "run `cloister login` again";
  if (e.code() == Code::kPermissionDenied && e.reason().empty())
    return "your user lacks the role for this operation";
  return "";
}

void FailError(std::string_view cmd, const Error& e) {
  std::string msg = e.ToString();
  std::string hint = HintFor(e);
  if (!hint.empty()) msg += "\n  hint: " + hint;
  Fail(cmd, msg);
}

void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const auto& r : rows) print(r);
}

nlohmann::json ErrorJson(const Error& e) {
  return {{"code", std::string(CodeName(e.code()))},
          {"reason", e.reason()},
          {"message", e.message()}};
}

Progress::Progress(std::string what, bool quiet)
    : what_(std::move(what)), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {
  if (quiet_) return;
  if (tty_) std::cerr << "  " << what_ << " ..." << std::flush;
  else std::cerr << "  " << what_ << " ...\n";
}

Progress::~Progress() {
  if (!done_ && !quiet_ && tty_) std::cerr << "\n";
}

void Progress::Tick() {
  if (quiet_ || !tty_ || done_) return;
  static constexpr const char kFrames[] = "|/-\\";
  std::cerr << "\r  " << what_ << " ... " << kFrames[frame_++ % 4] << std::flush;
}

void Progress::Done(std::string_view outcome) {
  if (quiet_ || done_) return;
  done_ = true;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start_)
                .count();
  if (tty_) std::cerr << "\r";
  std::cerr << "  " << what_ << " ... " << outcome << " (" << ms << " ms)\n";
}

Result<std::string> ReadSecret(const std::string& prompt, bool from_stdin) {
  std::string line;
  const bool interactive = !from_stdin && ::isatty(STDIN_FILENO) == 1;
  if (interactive) {
    std::cerr << prompt << std::flush;
    termios old_attr{};
    bool restore = ::tcgetattr(STDIN_FILENO, &old_attr) == 0;
    if (restore) {
      termios no_echo = old_attr;
      no_echo.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &no_echo);
    }
    std::getline(std::cin, line);
    if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_attr);
    std::cerr << "\n";
  } else {
    std::getline(std::cin, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return InvalidArgument("no password given");
  return line;
}

std::string FormatUnix(int64_t t) {
  if (t <= 0) return "";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace cloister::cli
