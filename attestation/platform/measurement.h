// Measures a local process the way the emulated CPU does: SHA-256 of the
// executable the kernel says it runs (/proc/<pid>/exe), never anything the
// process says about itself. Results are cached per file identity so a
// service that reconnects does not re-hash a 50 MB binary.
//
//   Measurer m;
//   CLOISTER_ASSIGN_OR_RETURN(ProcessMeasurement pm, m.Measure(peer.pid));
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <tuple>

#include "attestation/platform/sys/peer_process.h"
#include "common/crypto/hash.h"

namespace cloister::attestation {

inline constexpr const char* kMeasurementFailed = "PLATFORM_MEASUREMENT_FAILED";
inline constexpr const char* kPeerChanged = "PEER_PROCESS_CHANGED";

struct ProcessMeasurement {
  crypto::Digest measurement{};
  int tracer_pid = 0;  // TracerPid at measurement time (0 = not traced)
};

class Measurer {
 public:
  // Binaries larger than this are refused rather than hashed for minutes.
  static constexpr uint64_t kMaxExecutableBytes = 1ull << 30;
  static constexpr size_t kMaxCacheEntries = 1024;

  // Measures `pid`. The pid's start time is read before opening its exe and
  // re-checked after hashing: if it changed the pid was reused (the caller
  // died and another process took its number) and the result is refused with
  // Aborted [PEER_PROCESS_CHANGED]. PermissionDenied
  // [PLATFORM_MEASUREMENT_FAILED] if /proc/<pid>/exe cannot be opened (a
  // non-dumpable peer and no CAP_SYS_PTRACE). Thread-safe.
  Result<ProcessMeasurement> Measure(pid_t pid);

  // Test hooks.
  size_t cache_hits_for_test() const;

 private:
  using Key = std::tuple<uint64_t, uint64_t, int64_t, int64_t, uint64_t>;
  mutable std::mutex mu_;
  std::map<Key, crypto::Digest> cache_;  // guarded by mu_
  size_t cache_hits_ = 0;                // guarded by mu_
};

}  // namespace cloister::attestation
