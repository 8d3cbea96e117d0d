// Wraps the pidfd syscalls (Linux ≥ 5.3; SO_PEERPIDFD ≥ 6.5): a handle on one
// PROCESS rather than on a pid number that the kernel may hand to another
// process after the first one dies. The platform takes one when a caller
// connects and, after every re-measurement through /proc/<pid>, checks that
// the process behind the handle is still alive: then /proc/<pid> was that
// process, not a successor that reused its pid.
//
//   CLOISTER_ASSIGN_OR_RETURN(PidFd p, PidFd::ForPeer(sock_fd, peer.pid));
//   ...read /proc/<pid>/...;  if (!p.Alive()) ...refuse...
#pragma once

#include <sys/types.h>

#include "attestation/platform/sys/unique_fd.h"
#include "common/result.h"

namespace cloister::attestation::sys {

class PidFd {
 public:
  // The connected peer of Unix socket `sock_fd`: SO_PEERPIDFD when the
  // kernel has it (the pidfd of the process that called connect(), no
  // race), else pidfd_open(`peer_pid`) (the pid from SO_PEERCRED; the
  // caller re-checks the process start time to catch reuse in between).
  static Result<PidFd> ForPeer(int sock_fd, pid_t peer_pid);
  // pidfd_open(pid).
  static Result<PidFd> Open(pid_t pid);

  // True while the process has not exited (pidfd_send_signal with signal
  // 0; EPERM also means it exists).
  bool Alive() const;
  int get() const { return fd_.get(); }

 private:
  explicit PidFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace cloister::attestation::sys
