// UniqueFd and fd helpers; wraps close/open/pipe2/read/write. See unique_fd.h.
#include "common/sys/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace cloister::sys {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> OpenFd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  return UniqueFd(fd);
}

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "write");
    if (n == 0) return Internal("write made no progress");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

Result<std::string> ReadToEnd(int fd, size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "read");
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return ResourceExhausted("more than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace cloister::sys
