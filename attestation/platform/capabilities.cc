// CapEff parsing; see capabilities.h.
#include "attestation/platform/capabilities.h"

#include <cstdint>

#include "common/fs.h"

namespace cloister::attestation {

Result<bool> ParseEffectiveCapability(std::string_view status, int cap) {
  if (cap < 0 || cap > 63) return InvalidArgument("capability number out of range");
  auto pos = status.find("\nCapEff:");
  if (pos == std::string_view::npos) return Internal("no CapEff in /proc status");
  pos += 8;
  while (pos < status.size() && (status[pos] == ' ' || status[pos] == '\t')) ++pos;
  uint64_t v = 0;
  size_t digits = 0;
  for (; pos < status.size() && digits < 16; ++pos, ++digits) {
    char c = status[pos];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  if (digits == 0) return Internal("malformed CapEff in /proc status");
  return ((v >> cap) & 1u) != 0;
}

Result<bool> HasEffectiveCapability(int cap) {
  CLOISTER_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status", 1 << 16));
  return ParseEffectiveCapability(status, cap);
}

}  // namespace cloister::attestation
