// Whether this process holds a Linux capability in its effective set, read
// from /proc/self/status (CapEff), so the daemon can refuse at start to run
// in a configuration where it could not measure hardened enclaves.
//
//   CLOISTER_ASSIGN_OR_RETURN(bool can, HasEffectiveCapability(kCapSysPtrace));
#pragma once

#include <string_view>

#include "common/result.h"

namespace cloister::attestation {

// include/uapi/linux/capability.h
inline constexpr int kCapDacReadSearch = 2;
inline constexpr int kCapSysPtrace = 19;

Result<bool> HasEffectiveCapability(int cap);
// Parses the CapEff line of a /proc/<pid>/status text (exposed for tests).
Result<bool> ParseEffectiveCapability(std::string_view status, int cap);

}  // namespace cloister::attestation
