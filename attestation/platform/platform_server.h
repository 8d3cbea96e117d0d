// cloister-platform's socket server: accepts local connections, measures
// each peer ONCE at connect (SO_PEERCRED pid → /proc/<pid>/exe) and binds
// that identity to the connection, then answers framed requests with the
// PlatformService. A thread per connection, bounded in total and per uid.
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

#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_service.h"
#include "attestation/platform/sys/unix_socket.h"

namespace cloister::attestation {

inline constexpr const char* kTooManyConnections = "PLATFORM_TOO_MANY_CONNECTIONS";

struct PlatformServerOptions {
  std::string socket_path;
  // Any local process may connect (identity, not socket permission, decides
  // what it gets), so connection slots are bounded to limit exhaustion.
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
  // Binds the socket (mode 0666; its directory decides reachability).
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
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void Serve(Connection& conn);
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
