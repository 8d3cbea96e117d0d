// File helpers; wraps POSIX stat/read/mkdir/readlink with errno mapping
// (fds and atomic writes live in common/sys/).
#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "common/sys/atomic_file.h"
#include "common/sys/unique_fd.h"

namespace cloister {

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd, sys::OpenFd(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, "stat " + path);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes)
    return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read " + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One implementation of the atomic write, in the POSIX layer.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  return sys::WriteFileAtomic(path, data, mode);
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return InvalidArgument("empty directory path");
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return ErrnoError(errno, "mkdir " + cur);
  }
  return OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Status CheckPrivateFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat " + path);
  if ((st.st_mode & 077) != 0)
    return FailedPrecondition(path + " must not be accessible by group or others (chmod 600)",
                              "INSECURE_PERMISSIONS");
  return OkStatus();
}

Result<std::string> SelfExePath() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) return ErrnoError(errno, "readlink /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace cloister
