// JSON string escaping; see json_escape.h.
#include "common/json_escape.h"

#include <cstdio>

namespace cloister {

void AppendJsonEscaped(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  for (char c : s) {
    const unsigned char ch = static_cast<unsigned char>(c);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
}

}  // namespace cloister
