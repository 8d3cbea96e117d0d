// Raw pidfd_open / pidfd_send_signal / SO_PEERPIDFD; see pidfd.h.
#include "attestation/platform/sys/pidfd.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // include/uapi/asm-generic/socket.h, Linux 6.5
#endif

namespace cloister::attestation::sys {

Result<PidFd> PidFd::Open(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    int e = errno;
    if (e == ESRCH) return NotFound("process " + std::to_string(pid) + " is gone", "PEER_GONE");
    return ErrnoError(e, "pidfd_open");
  }
  return PidFd(UniqueFd(static_cast<int>(fd)));
}

Result<PidFd> PidFd::ForPeer(int sock_fd, pid_t peer_pid) {
  int fd = -1;
  socklen_t len = sizeof fd;
  if (::getsockopt(sock_fd, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && len == sizeof fd && fd >= 0)
    return PidFd(UniqueFd(fd));
  // Only an older kernel falls back; a peer that already exited is gone.
  if (errno != ENOPROTOOPT) return NotFound("peer process is gone", "PEER_GONE");
  return Open(peer_pid);
}

bool PidFd::Alive() const {
  if (!fd_.valid()) return false;
  if (::syscall(SYS_pidfd_send_signal, fd_.get(), 0, nullptr, 0) == 0) return true;
  return errno == EPERM;
}

}  // namespace cloister::attestation::sys
