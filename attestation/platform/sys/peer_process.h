// Wraps the /proc/<pid> reads the platform daemon uses to measure a caller:
// the process start time (stat field 22, the pid-reuse check), an fd on its
// executable (/proc/<pid>/exe), that file's identity for caching, whole
// /proc/<pid> files (bounded) and the files a process has mapped.
//
//   CLOISTER_ASSIGN_OR_RETURN(uint64_t t0, sys::ProcessStartTime(pid));
//   CLOISTER_ASSIGN_OR_RETURN(UniqueFd exe, sys::OpenProcessExe(pid));
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// Major/minor numbers of a FileId's device, as /proc/<pid>/maps prints them.
uint32_t DevMajor(uint64_t dev);
uint32_t DevMinor(uint64_t dev);

// Reads /proc/<pid>/<name> whole, at most `max_bytes` (ResourceExhausted
// beyond). NotFound [PEER_GONE] if the process is gone; PermissionDenied
// if we may not read it (a non-dumpable peer and no CAP_SYS_PTRACE).
Result<std::string> ReadProcFile(pid_t pid, std::string_view name, size_t max_bytes);

// Opens a file a process has mapped, by the path /proc/<pid>/maps shows,
// read-only and without following a final symlink (the kernel prints the
// resolved path). The caller compares its FileId with the mapping's device
// and inode, so a file swapped in at that path is detected.
Result<UniqueFd> OpenMappedFile(const std::string& path);

}  // namespace cloister::attestation::sys
