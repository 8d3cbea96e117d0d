// cloister-platform's socket server: accepts local connections from the
// allowed service accounts only (socket mode 0660 + a uid/gid allowlist
// checked on SO_PEERCRED), measures each peer at connect (SO_PEERCRED pid →
// /proc/<pid>/exe) and binds that identity and a pidfd of the process to
// the connection. Every request must be written by that same process
// (SO_PASSCRED), and every quote, sealing-key and extend request first
// re-inspects it (measurement.h Inspect: tracer, environment, mappings,
// libraries, same executable) and checks the pidfd, so a process that
// changed since connect — or a child that inherited the socket — gets
// nothing. A thread per connection, bounded in total and per uid.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto server, PlatformServer::Create(opts, service, measurer));
//   std::thread stopper([&] { WaitForSignal(); server->Shutdown(); });
//   CLOISTER_RETURN_IF_ERROR(server->Run());
#pragma once

#include <sys/types.h>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_service.h"
#include "attestation/platform/sys/pidfd.h"
#include "attestation/platform/sys/unix_socket.h"

namespace cloister::attestation {

inline constexpr const char* kTooManyConnections = "PLATFORM_TOO_MANY_CONNECTIONS";
inline constexpr const char* kPeerNotAllowed = "PLATFORM_PEER_NOT_ALLOWED";

struct PlatformServerOptions {
  std::string socket_path;
  // Who may use the platform: a peer is accepted if its uid is the
  // daemon's own (which can read the device secret anyway) or in
  // allow_uids, or its (primary) gid is in allow_gids. The socket file is mode 0660, group
  // socket_group ((gid_t)-1: the daemon's gid), so the file system keeps
  // other users from even connecting.
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  gid_t socket_group = static_cast<gid_t>(-1);
  // Connection slots are bounded to limit exhaustion by allowed accounts.
  size_t max_connections = 256;
  size_t max_connections_per_uid = 64;
  // Once a frame has started, the rest must arrive within this time.
  int frame_timeout_ms = 5000;
};

class PlatformServer {
  // Passkey: only Create() can name it, yet make_unique can forward it.
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Binds the socket (mode 0660, group options.socket_group).
  // `service` and `measurer` must outlive the server.
  static Result<std::unique_ptr<PlatformServer>> Create(PlatformServerOptions options,
                                                        PlatformService& service,
                                                        Measurer& measurer);
  // Use Create().
  PlatformServer(PrivateTag, PlatformServerOptions options, PlatformService& service,
                 Measurer& measurer, sys::UniqueFd listen_fd, sys::WakePipe wake);
  ~PlatformServer();
  PlatformServer(const PlatformServer&) = delete;
  PlatformServer& operator=(const PlatformServer&) = delete;

  // Serves until Shutdown(); then wakes and joins every connection thread
  // and unlinks the socket. Call once.
  Status Run();
  // Thread-safe; may be called before or during Run().
  void Shutdown();

 private:
  struct Connection {
    sys::UniqueFd fd;
    sys::PeerCred peer;
    SessionLaunchLog launch_log;  // this session's events (Serve's thread only)
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void Serve(Connection& conn);
  bool Allowed(const sys::PeerCred& peer) const;
  // Re-inspects the caller for an identity-bearing request; see the top.
  Result<CallerIdentity> Recheck(const CallerIdentity& bound, const sys::PidFd& pidfd);
  void Reap(bool all);

  const PlatformServerOptions options_;
  PlatformService& service_;
  Measurer& measurer_;
  sys::UniqueFd listen_fd_;
  sys::WakePipe wake_;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> conns_;  // guarded by mu_
  std::map<uid_t, size_t> per_uid_;               // guarded by mu_
};

}  // namespace cloister::attestation
