// Bounded /proc/<pid>/maps parser; see proc_maps.h.
#include "attestation/platform/proc_maps.h"

#include <cctype>

namespace cloister::attestation {
namespace {

Error Malformed(size_t line, std::string_view what) {
  return InvalidArgument("/proc maps line " + std::to_string(line) + ": " + std::string(what),
                         kProcMapsMalformed);
}

// Consumes a run of hex digits (at most 16) from `s` at `pos`.
bool Hex(std::string_view s, size_t& pos, uint64_t& out) {
  size_t start = pos;
  uint64_t v = 0;
  while (pos < s.size() && pos - start < 16) {
    char c = s[pos];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = (v << 4) | static_cast<uint64_t>(d);
    ++pos;
  }
  out = v;
  return pos > start && (pos >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[pos])));
}

bool Dec(std::string_view s, size_t& pos, uint64_t& out) {
  size_t start = pos;
  uint64_t v = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 20) {
    uint64_t next = v * 10 + static_cast<uint64_t>(s[pos] - '0');
    if (next / 10 != v) return false;
    v = next;
    ++pos;
  }
  out = v;
  return pos > start && (pos >= s.size() || s[pos] < '0' || s[pos] > '9');
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

Result<MapEntry> ParseLine(std::string_view s, size_t n) {
  MapEntry e;
  size_t pos = 0;
  uint64_t v = 0;
  if (!Hex(s, pos, e.start) || !Expect(s, pos, '-') || !Hex(s, pos, e.end) || e.end < e.start ||
      !Expect(s, pos, ' '))
    return Malformed(n, "address range");
  if (pos + 4 > s.size()) return Malformed(n, "permissions");
  const std::string_view perms = s.substr(pos, 4);
  if ((perms[0] != 'r' && perms[0] != '-') || (perms[1] != 'w' && perms[1] != '-') ||
      (perms[2] != 'x' && perms[2] != '-') || (perms[3] != 'p' && perms[3] != 's'))
    return Malformed(n, "permissions");
  e.read = perms[0] == 'r';
  e.write = perms[1] == 'w';
  e.exec = perms[2] == 'x';
  e.shared = perms[3] == 's';
  pos += 4;
  if (!Expect(s, pos, ' ') || !Hex(s, pos, e.offset) || !Expect(s, pos, ' '))
    return Malformed(n, "offset");
  if (!Hex(s, pos, v) || v > 0xfffffffu) return Malformed(n, "device");
  e.dev_major = static_cast<uint32_t>(v);
  if (!Expect(s, pos, ':') || !Hex(s, pos, v) || v > 0xfffffu) return Malformed(n, "device");
  e.dev_minor = static_cast<uint32_t>(v);
  if (!Expect(s, pos, ' ') || !Dec(s, pos, e.inode)) return Malformed(n, "inode");
  // The path follows after padding spaces; it may itself contain spaces.
  while (pos < s.size() && s[pos] == ' ') ++pos;
  e.path = std::string(s.substr(pos));
  return e;
}

}  // namespace

Result<std::vector<MapEntry>> ParseProcMaps(std::string_view text) {
  if (text.size() > kMaxProcMapsBytes) return Malformed(0, "file too large");
  std::vector<MapEntry> out;
  size_t pos = 0, line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    if (out.size() >= kMaxMapEntries) return Malformed(line, "too many mappings");
    CLOISTER_ASSIGN_OR_RETURN(MapEntry e, ParseLine(text.substr(pos, end - pos), line));
    out.push_back(std::move(e));
    pos = end + 1;
  }
  return out;
}

}  // namespace cloister::attestation
