// Wraps the POSIX Unix-domain socket API; see unix_socket.h. All errno
// handling for the platform's sockets lives here.
#include "attestation/platform/sys/unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace cloister::attestation::sys {
namespace {

Result<sockaddr_un> MakeAddr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Leave room for the terminating NUL; abstract sockets are not used.
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return InvalidArgument("socket path must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) +
                               " bytes: " + path,
                           "PLATFORM_SOCKET_PATH_INVALID");
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<UniqueFd> ListenUnix(const std::string& path, int backlog, mode_t mode, gid_t group) {
  CLOISTER_ASSIGN_OR_RETURN(sockaddr_un addr, MakeAddr(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(errno, "socket");
  // Replace a stale socket from a previous run, but never another file type.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return FailedPrecondition(path + " exists and is not a socket", "PLATFORM_SOCKET_PATH_INVALID");
    if (::unlink(path.c_str()) != 0) return ErrnoError(errno, "unlink " + path);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return ErrnoError(errno, "bind " + path);
  if (::chmod(path.c_str(), mode) != 0) return ErrnoError(errno, "chmod " + path);
  if (group != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), group) != 0)
    return ErrnoError(errno, "chgrp " + path + " to " + std::to_string(group));
  // Accepted sockets of older kernels do not inherit it; set on both.
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return ErrnoError(errno, "setsockopt(SO_PASSCRED)");
  if (::listen(fd.get(), backlog) != 0) return ErrnoError(errno, "listen " + path);
  return fd;
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(sockaddr_un addr, MakeAddr(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(errno, "socket");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    return Unavailable("cannot connect to platform socket " + path + ": " + std::strerror(e),
                       "PLATFORM_UNAVAILABLE");
  }
  return fd;
}

Result<UniqueFd> AcceptUnix(int listen_fd, int wake_fd, int timeout_ms) {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return UniqueFd();
    return ErrnoError(errno, "poll");
  }
  if (n == 0 || (fds[1].revents & POLLIN) != 0) return UniqueFd();
  UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) {
    // The connecting peer may have gone away between poll and accept.
    if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) return UniqueFd();
    return ErrnoError(errno, "accept");
  }
  return fd;
}

Result<PeerCred> GetPeerCred(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return ErrnoError(errno, "getsockopt(SO_PEERCRED)");
  if (cred.pid <= 0) return Internal("SO_PEERCRED returned no pid", "PEER_UNKNOWN");
  return PeerCred{cred.pid, cred.uid, cred.gid};
}

Status EnablePassCred(int fd) {
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return ErrnoError(errno, "setsockopt(SO_PASSCRED)");
  return OkStatus();
}

namespace {

// recv() that also returns the writer's pid from SCM_CREDENTIALS. The
// kernel never merges bytes of different writers into one read.
ssize_t RecvWithSender(int fd, uint8_t* buf, size_t len, pid_t* sender) {
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  *sender = 0;
  if (n <= 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred cred{};
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      *sender = cred.pid;
    }
  }
  return n;
}

}  // namespace

Status WriteAll(int fd, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET)
        return Unavailable("platform connection closed by peer", kConnectionClosed);
      return ErrnoError(errno, "send");
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status ReadExact(int fd, std::span<uint8_t> out, int timeout_ms, size_t* got, pid_t expected_sender) {
  const int64_t deadline = timeout_ms < 0 ? -1 : NowMs() + timeout_ms;
  size_t done = 0;
  auto report = [&] {
    if (got != nullptr) *got = done;
  };
  while (done < out.size()) {
    int wait_ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - NowMs();
      if (left <= 0) {
        report();
        return DeadlineExceeded("platform connection read timed out", kIoTimeout);
      }
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, wait_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      report();
      return ErrnoError(errno, "poll");
    }
    if (pr == 0) continue;  // re-checks the deadline
    pid_t sender = 0;
    ssize_t n = expected_sender > 0
                    ? RecvWithSender(fd, out.data() + done, out.size() - done, &sender)
                    : ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n > 0 && expected_sender > 0 && sender != expected_sender) {
      report();
      return PermissionDenied("bytes on this platform session were written by pid " +
                                  std::to_string(sender) + ", not by the process that connected (" +
                                  std::to_string(expected_sender) + ")",
                              kSenderNotPeer);
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      report();
      if (errno == ECONNRESET) return Unavailable("platform connection reset", kConnectionClosed);
      return ErrnoError(errno, "recv");
    }
    if (n == 0) {
      report();
      return Unavailable("platform connection closed", kConnectionClosed);
    }
    done += static_cast<size_t>(n);
  }
  report();
  return OkStatus();
}

void ShutdownBoth(int fd) { ::shutdown(fd, SHUT_RDWR); }

Result<WakePipe> WakePipe::Create() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoError(errno, "pipe2");
  WakePipe p;
  p.read_ = UniqueFd(fds[0]);
  p.write_ = UniqueFd(fds[1]);
  return p;
}

void WakePipe::Notify() const {
  const char c = 1;
  // A full pipe already wakes the reader; nothing else to do on failure.
  [[maybe_unused]] ssize_t n = ::write(write_.get(), &c, 1);
}

}  // namespace cloister::attestation::sys
