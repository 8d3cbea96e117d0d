// spdlog setup and structured field formatting; see logging.h.
#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>

#include "common/json_escape.h"

namespace cloister {
namespace {
std::atomic<bool> g_json{false};

std::string JsonEscape(std::string_view s) { return JsonEscaped(s); }
}  // namespace

void InitLogging(std::string_view service, const LogOptions& opts) {
  std::shared_ptr<spdlog::logger> logger;
  if (opts.file.empty())
    logger = spdlog::stderr_logger_mt(std::string(service));
  else
    logger = spdlog::basic_logger_mt(std::string(service), opts.file);
  g_json = opts.json;
  if (opts.json)
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e","level":"%l","service":"%n",%v})");
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %L %n: %v");
  logger->set_level(spdlog::level::from_str(opts.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string FormatLog(std::string_view msg, std::initializer_list<LogField> fields) {
  std::string out;
  if (g_json) {
    out = "\"msg\":\"" + JsonEscape(msg) + "\"";
    for (const auto& f : fields) out += ",\"" + JsonEscape(f.key) + "\":\"" + JsonEscape(f.value) + "\"";
    return out;
  }
  out = std::string(msg);
  for (const auto& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    bool quote = f.value.empty() || f.value.find_first_of(" \t\"=") != std::string::npos;
    out += quote ? "\"" + JsonEscape(f.value) + "\"" : JsonEscape(f.value);
  }
  return out;
}

void Log(spdlog::level::level_enum lvl, std::string_view msg,
         std::initializer_list<LogField> fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(lvl)) return;
  logger->log(lvl, "{}", FormatLog(msg, fields));
}

}  // namespace cloister
