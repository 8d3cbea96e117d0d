// Measures a local process the way the emulated CPU does, from the kernel's
// view of it and never from anything the process says about itself.
//
// Measure(pid): MRENCLAVE, the SHA-256 of the executable (/proc/<pid>/exe).
//   Taken once at connect; it names the enclave in the manifest and keys
//   MRENCLAVE sealing.
// Inspect(pid): the code that runs, re-read on every identity-bearing
//   request (quote, sealing key, launch-log extension). It refuses, each
//   with its own reason,
//     MEASURE_TRACED                  a tracer is attached (TracerPid)
//     MEASURE_LOADER_ENV              LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, ...
//                                     (loader_env.h) in /proc/<pid>/environ
//     MEASURE_ANON_EXEC               executable memory backed by no file
//                                     ([heap], [stack], anonymous mmap)
//     MEASURE_WRITABLE_EXEC           a mapping both writable and executable
//     MEASURE_DELETED_EXEC            executable mapping of a deleted file or
//                                     a memfd
//     MEASURE_MAPPING_CHANGED         the file at a mapped path is not the
//                                     mapped file (device/inode differ)
//     MEASURE_LIBRARY_NOT_REFERENCED  an executable file other than the exe
//                                     whose hash is not a library reference
//                                     value of the signed manifest
//   and returns the code identity: the exe's hash, then every other file
//   mapped executable (each file once) sorted by its mapped path bytewise,
//   each identified by its content hash, and
//     code_digest = SHA-256("cloister-code-v1" ‖ u32be(1 + n) ‖ exe ‖ lib_1 ‖ … ‖ lib_n).
//   The kernel's own [vdso] / [vsyscall] pages are not files and are not
//   counted.
// File hashes (attestation/sys/file_hash.h, the same function the build
// uses) are cached per file identity so a reconnecting service does not
// re-hash 50 MB.
//
//   Measurer m;
//   CLOISTER_ASSIGN_OR_RETURN(ProcessMeasurement pm, m.Measure(peer.pid));
//   CLOISTER_ASSIGN_OR_RETURN(CodeIdentity code, m.Inspect(peer.pid, is_reference));
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "attestation/platform/sys/peer_process.h"
#include "common/crypto/hash.h"

namespace cloister::attestation {

inline constexpr const char* kMeasurementFailed = "PLATFORM_MEASUREMENT_FAILED";
inline constexpr const char* kPeerChanged = "PEER_PROCESS_CHANGED";
inline constexpr const char* kMeasureTraced = "MEASURE_TRACED";
inline constexpr const char* kMeasureAnonExec = "MEASURE_ANON_EXEC";
inline constexpr const char* kMeasureWritableExec = "MEASURE_WRITABLE_EXEC";
inline constexpr const char* kMeasureDeletedExec = "MEASURE_DELETED_EXEC";
inline constexpr const char* kMeasureMappingChanged = "MEASURE_MAPPING_CHANGED";
inline constexpr const char* kMeasureLibraryNotReferenced = "MEASURE_LIBRARY_NOT_REFERENCED";
// The process runs another executable than the one measured at connect.
inline constexpr const char* kMeasureExeChanged = "MEASURE_EXE_CHANGED";

struct ProcessMeasurement {
  crypto::Digest measurement{};
  int tracer_pid = 0;  // TracerPid at measurement time (0 = not traced)
};

struct MappedCode {
  std::string path;  // as mapped (informational; identity is the digest)
  crypto::Digest digest{};
};

struct CodeIdentity {
  crypto::Digest exe{};
  std::vector<MappedCode> libraries;  // sorted by path, each file once
  crypto::Digest code_digest{};
};

// The documented code_digest encoding (exposed for tests and verifiers).
crypto::Digest CodeDigest(const crypto::Digest& exe, std::span<const MappedCode> libraries);

// Is this file hash a library reference value (manifest.h)?
using LibraryReferencePredicate = std::function<bool(const crypto::Digest&)>;

class Measurer {
 public:
  static constexpr size_t kMaxCacheEntries = 4096;
  static constexpr size_t kMaxStatusBytes = 64u << 10;

  // Measures `pid`. The pid's start time is read before opening its exe and
  // re-checked after hashing: if it changed the pid was reused (the caller
  // died and another process took its number) and the result is refused with
  // Aborted [PEER_PROCESS_CHANGED]. PermissionDenied
  // [PLATFORM_MEASUREMENT_FAILED] if /proc/<pid>/exe cannot be opened (a
  // non-dumpable peer and no CAP_SYS_PTRACE). Thread-safe.
  Result<ProcessMeasurement> Measure(pid_t pid);

  // The checks and code identity described at the top of this file. The
  // caller must afterwards confirm (pidfd) that `pid` is still the process
  // it means: this reads /proc/<pid> by number. Thread-safe.
  Result<CodeIdentity> Inspect(pid_t pid, const LibraryReferencePredicate& is_reference);

  // Test hooks.
  size_t cache_hits_for_testing() const;

 private:
  using Key = std::tuple<uint64_t, uint64_t, int64_t, int64_t, uint64_t>;
  // Hash of the open file `fd` whose identity is `id`, from the cache if
  // the same file was hashed before. Aborted [PEER_PROCESS_CHANGED] if the
  // file changed while it was read.
  Result<crypto::Digest> HashCached(int fd, const sys::FileId& id, const std::string& what);

  mutable std::mutex mu_;
  std::map<Key, crypto::Digest> cache_;  // guarded by mu_
  size_t cache_hits_ = 0;                // guarded by mu_
};

}  // namespace cloister::attestation
