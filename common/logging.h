// Logging through spdlog with structured key=value fields. Secrets never go
// through here: SecretBytes has no formatter, and callers log ids or hashes.
//
//   InitLogging("cloister-platform", LogOptions{});
//   LOG_INFO("quote issued", {{"measurement", hex.substr(0,16)}, {"pid", pid}});
#pragma once

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cloister {

struct LogOptions {
  std::string level = "info";   // trace|debug|info|warn|error|off
  std::string file;             // empty: stderr
  bool json = false;            // one JSON object per line
};

// Sets the default logger for this process. Safe to call once at start.
void InitLogging(std::string_view service, const LogOptions& opts);

struct LogField {
  std::string key;
  std::string value;
  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(v) {}
  LogField(std::string k, std::string_view v) : key(std::move(k)), value(v) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  LogField(std::string k, T v) : key(std::move(k)), value(std::to_string(v)) {}
};

// Formats `msg key=value ...` (values with spaces are quoted), or a JSON
// object when the logger was initialised with json = true.
std::string FormatLog(std::string_view msg, std::initializer_list<LogField> fields);

void Log(spdlog::level::level_enum lvl, std::string_view msg,
         std::initializer_list<LogField> fields = {});

}  // namespace cloister

#define LOG_DEBUG(msg, ...) ::cloister::Log(spdlog::level::debug, msg, ##__VA_ARGS__)
#define LOG_INFO(msg, ...) ::cloister::Log(spdlog::level::info, msg, ##__VA_ARGS__)
#define LOG_WARN(msg, ...) ::cloister::Log(spdlog::level::warn, msg, ##__VA_ARGS__)
#define LOG_ERROR(msg, ...) ::cloister::Log(spdlog::level::err, msg, ##__VA_ARGS__)
