// UniqueFd: RAII owner of one POSIX file descriptor, plus the few fd
// helpers every caller needs (open, pipe, write-all, read-to-end).
//
// This is a raw-C-API wrapper file: common/sys/ is where Cloister calls
// open/close/pipe/read/write directly; code elsewhere holds a UniqueFd.
//
//   CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd, sys::OpenFd(path, O_RDONLY));
//   CLOISTER_ASSIGN_OR_RETURN(std::string text, sys::ReadToEnd(fd.get(), 1 << 20));
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace cloister::sys {

// Owns `fd` (closes it on destruction); -1 means "none". Move-only. Not
// thread-safe: one owner at a time, like the descriptor itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the current fd (if any) and owns `fd` instead.
  void Reset(int fd = -1);
  // Gives up ownership without closing; the caller now owns the result.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added. Errors from errno (NotFound, PermissionDenied...).
Result<UniqueFd> OpenFd(const std::string& path, int flags, mode_t mode = 0600);

// pipe2(O_CLOEXEC): {read end, write end}.
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
Result<Pipe> MakePipe();

// Writes all of `data`, retrying on EINTR and short writes.
Status WriteAll(int fd, std::string_view data);

// Reads until EOF; ResourceExhausted past `max_bytes`.
Result<std::string> ReadToEnd(int fd, size_t max_bytes);

}  // namespace cloister::sys
