// Wraps the /proc/<pid> reads the platform daemon uses to measure a caller:
// the process start time (stat field 22, the pid-reuse check), an fd on its
// executable (/proc/<pid>/exe) and that file's identity for caching.
//
//   CLOISTER_ASSIGN_OR_RETURN(uint64_t t0, sys::ProcessStartTime(pid));
//   CLOISTER_ASSIGN_OR_RETURN(UniqueFd exe, sys::OpenProcessExe(pid));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string_view>

#include "attestation/platform/sys/unique_fd.h"
#include "common/bytes.h"

namespace cloister::attestation::sys {

// Start time of `pid` in clock ticks since boot (field 22 of
// /proc/<pid>/stat). NotFound if the process is gone; Internal if the file
// does not parse.
Result<uint64_t> ProcessStartTime(pid_t pid);
// Parses the contents of a /proc/<pid>/stat file (exposed for tests: the
// comm field may contain spaces and parentheses).
Result<uint64_t> ParseStartTime(std::string_view stat);

// Opens the executable the process runs, read-only. This follows the kernel's
// reference to the mapped file, so it works for deleted or renamed binaries.
// PermissionDenied if we may not (non-dumpable peer and no CAP_SYS_PTRACE).
Result<UniqueFd> OpenProcessExe(pid_t pid);

// What identifies file content for caching: ctime is included because it
// cannot be set from user space (touch -d resets mtime, not ctime).
struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t size = 0;
  bool operator==(const FileId&) const = default;
};
Result<FileId> StatFd(int fd);

// Reads `fd` from offset 0 to EOF in chunks, passing each to `sink`.
// ResourceExhausted beyond `max_bytes`.
Status ReadWholeFd(int fd, uint64_t max_bytes, const std::function<void(ByteView)>& sink);

}  // namespace cloister::attestation::sys
