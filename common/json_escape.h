// JSON string escaping shared by the structured logger (common/logging.cc)
// and the Lua JSON encoder (functions/lua/sys/lua_json.cc): '"' and '\'
// backslash-escaped, \n \r \t by name, other control bytes as \u00XX, every
// other byte copied (UTF-8 passes through unchanged).
//
//   std::string out = "\"";
//   AppendJsonEscaped(out, value);
//   out += "\"";
#pragma once

#include <string>
#include <string_view>

namespace cloister {

// Appends the escaped form of `s` (without surrounding quotes) to `out`.
void AppendJsonEscaped(std::string& out, std::string_view s);

inline std::string JsonEscaped(std::string_view s) {
  std::string out;
  AppendJsonEscaped(out, s);
  return out;
}

}  // namespace cloister
