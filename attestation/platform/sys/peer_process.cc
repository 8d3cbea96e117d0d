// Wraps /proc/<pid>/{stat,exe,...}, open and fstat for caller measurement; see
// peer_process.h.
#include "attestation/platform/sys/peer_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/fs.h"

namespace cloister::attestation::sys {

Result<uint64_t> ParseStartTime(std::string_view stat) {
  // "pid (comm) state ppid ..." — comm is attacker-chosen and may contain
  // ") ", so fields are counted from the LAST ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return Internal("malformed /proc stat", "PROC_STAT_MALFORMED");
  std::string_view rest = stat.substr(close + 1);
  // Fields after comm start at field 3; starttime is field 22.
  constexpr int kStartTimeField = 22;
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (end > pos) {
      ++field;
      if (field == kStartTimeField) {
        std::string_view tok = rest.substr(pos, end - pos);
        if (tok.empty() || tok.size() > 20) break;
        uint64_t v = 0;
        for (char c : tok) {
          if (c < '0' || c > '9') return Internal("malformed /proc stat", "PROC_STAT_MALFORMED");
          uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
          if (next / 10 != v) return Internal("malformed /proc stat", "PROC_STAT_MALFORMED");
          v = next;
        }
        return v;
      }
    }
    pos = end;
  }
  return Internal("malformed /proc stat", "PROC_STAT_MALFORMED");
}

Result<uint64_t> ProcessStartTime(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat", 1 << 16);
  if (!text.ok()) {
    if (text.code() == Code::kNotFound)
      return NotFound("process " + std::to_string(pid) + " is gone", "PEER_GONE");
    return text.error();
  }
  return ParseStartTime(*text);
}

Result<UniqueFd> OpenProcessExe(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/exe";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int e = errno;
    if (e == ENOENT || e == ESRCH)
      return NotFound("process " + std::to_string(pid) + " is gone", "PEER_GONE");
    return ErrnoError(e, "open " + path);
  }
  return fd;
}

Result<FileId> StatFd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "fstat");
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("executable is not a regular file");
  FileId id;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  id.size = static_cast<uint64_t>(st.st_size);
  return id;
}

uint32_t DevMajor(uint64_t dev) { return static_cast<uint32_t>(major(static_cast<dev_t>(dev))); }
uint32_t DevMinor(uint64_t dev) { return static_cast<uint32_t>(minor(static_cast<dev_t>(dev))); }

Result<std::string> ReadProcFile(pid_t pid, std::string_view name, size_t max_bytes) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + std::string(name);
  auto text = ReadFile(path, max_bytes);
  if (!text.ok() && text.code() == Code::kNotFound)
    return NotFound("process " + std::to_string(pid) + " is gone", "PEER_GONE");
  return text;
}

Result<UniqueFd> OpenMappedFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd.valid()) return ErrnoError(errno, "open mapped file " + path);
  return fd;
}

}  // namespace cloister::attestation::sys
