// Wraps the POSIX Unix-domain socket API (socket/bind/listen/accept/connect,
// SO_PEERCRED, poll-based read/write) for the platform daemon and its client.
// Everything above this file sees UniqueFd, spans and Result.
//
//   CLOISTER_ASSIGN_OR_RETURN(UniqueFd fd, sys::ConnectUnix("/run/cloister/platform.sock"));
//   CLOISTER_RETURN_IF_ERROR(sys::WriteAll(fd.get(), bytes));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "attestation/platform/sys/unique_fd.h"
#include "common/bytes.h"

namespace cloister::attestation::sys {

// Reason when the peer closed or reset the connection.
inline constexpr const char* kConnectionClosed = "PLATFORM_CONNECTION_CLOSED";
// Reason when a read did not complete before its deadline.
inline constexpr const char* kIoTimeout = "PLATFORM_IO_TIMEOUT";
// Reason when bytes on a connection were written by another process than
// the one that connected (e.g. a child that inherited the socket).
inline constexpr const char* kSenderNotPeer = "PLATFORM_SENDER_NOT_PEER";

// Kernel-attested credentials of the peer, fixed when it called connect().
struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Creates a listening socket at `path` (an existing socket file there is
// replaced), chmods it to `mode` and, if `group` is not (gid_t)-1, chowns
// it to that group, all before listen() so no one can connect under looser
// permissions. SO_PASSCRED is set so accepted connections carry the
// sender's credentials on every message. InvalidArgument if the path does
// not fit in sockaddr_un.
Result<UniqueFd> ListenUnix(const std::string& path, int backlog, mode_t mode,
                            gid_t group = static_cast<gid_t>(-1));
// Connects; Unavailable if nobody listens there.
Result<UniqueFd> ConnectUnix(const std::string& path);
// Waits up to `timeout_ms` (-1: forever) for a connection on `listen_fd` or
// for `wake_fd` to become readable. Returns an invalid UniqueFd on wake-up or
// timeout. The accepted fd is blocking and close-on-exec.
Result<UniqueFd> AcceptUnix(int listen_fd, int wake_fd, int timeout_ms);
// SO_PEERCRED of a connected Unix socket.
Result<PeerCred> GetPeerCred(int fd);
// SO_PASSCRED on an accepted socket: from then on the kernel attaches the
// WRITING process's pid to every message, which ReadExact can check.
Status EnablePassCred(int fd);

// Writes all of `data` (MSG_NOSIGNAL: a vanished peer is an error, not
// SIGPIPE). Unavailable [PLATFORM_CONNECTION_CLOSED] if the peer is gone.
Status WriteAll(int fd, ByteView data);
// Fills `out` completely. Waits at most `timeout_ms` in total (-1: forever).
// Unavailable [PLATFORM_CONNECTION_CLOSED] on EOF/reset,
// DeadlineExceeded [PLATFORM_IO_TIMEOUT] on timeout.
// `*got` (optional) receives how many bytes arrived before a failure.
// With `expected_sender` > 0 (and EnablePassCred on `fd`), every byte must
// have been written by that process (thread group): PermissionDenied
// [PLATFORM_SENDER_NOT_PEER] otherwise, including bytes without credentials.
Status ReadExact(int fd, std::span<uint8_t> out, int timeout_ms, size_t* got = nullptr,
                 pid_t expected_sender = 0);
// shutdown(SHUT_RDWR): wakes a thread blocked reading `fd`.
void ShutdownBoth(int fd);

// An eventfd-like wake-up pipe for stopping poll loops from another thread
// or a signal handler (Notify is async-signal-safe).
class WakePipe {
 public:
  static Result<WakePipe> Create();
  int read_fd() const { return read_.get(); }
  void Notify() const;

 private:
  UniqueFd read_;
  UniqueFd write_;
};

}  // namespace cloister::attestation::sys
