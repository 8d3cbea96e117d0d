// Process and socket helpers for `cloister cluster`; see service_process.h.
// Processes go through common/sys/process.h; the socket calls here are the
// CLI's only raw C API use.
#include "cli/service_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include "common/fs.h"
#include "common/sys/process.h"
#include "common/sys/unique_fd.h"

namespace cloister::cli {
namespace {

// "127.0.0.1:7443" → sockaddr_in. IPv4 literals only (a dev cluster is
// on loopback); "localhost" maps to 127.0.0.1.
Result<sockaddr_in> ParseHostPort(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("'" + host_port + "' is not host:port");
  std::string host = host_port.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  int port = 0;
  const char* b = host_port.data() + colon + 1;
  const char* e = host_port.data() + host_port.size();
  auto [end, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || end != e || port < 0 || port > 65535)
    return InvalidArgument("bad port in '" + host_port + "'");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return InvalidArgument("'" + host + "' is not an IPv4 address");
  return addr;
}

}  // namespace

Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path) {
  // Own session: the service survives the terminal and `cloister` exiting,
  // and a Ctrl-C at the terminal does not reach it. Not reaped by us.
  CLOISTER_ASSIGN_OR_RETURN(sys::Process p,
                            sys::Process::Spawn(argv, {.stdin_to = sys::Redirect::DevNull(),
                                                       .stdout_to = sys::Redirect::Append(log_path),
                                                       .stderr_to = sys::Redirect::Append(log_path),
                                                       .new_session = true}));
  return p.Detach();
}

bool IsServiceProcess(pid_t pid, const std::string& binary_name) {
  if (!sys::ProcessAlive(pid)) return false;
  // cmdline stays readable for non-dumpable processes (exe does not).
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  if (!cmdline.ok()) return false;
  std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
  auto slash = argv0.rfind('/');
  std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
  return base == binary_name;
}

bool ReapIfExited(pid_t pid) { return sys::ReapIfExited(pid); }

std::optional<pid_t> ReadPidFile(const std::string& path) {
  auto text = ReadFile(path, 64);
  if (!text.ok()) return std::nullopt;
  pid_t pid = 0;
  const char* b = text->data();
  const char* e = b + text->size();
  while (e > b && (e[-1] == '\n' || e[-1] == ' ')) --e;
  auto [end, ec] = std::from_chars(b, e, pid);
  if (ec != std::errc() || end != e || pid <= 0) return std::nullopt;
  return pid;
}

bool StopProcess(pid_t pid, const std::string& binary_name, std::chrono::milliseconds grace) {
  if (!IsServiceProcess(pid, binary_name)) return false;
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    ReapIfExited(pid);
    if (!IsServiceProcess(pid, binary_name)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 100 && IsServiceProcess(pid, binary_name); ++i) {
    ReapIfExited(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool TcpConnectable(const std::string& host_port, std::chrono::milliseconds timeout) {
  auto addr = ParseHostPort(host_port);
  if (!addr.ok()) return false;
  sys::UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return false;
  const int fd = sock.get();
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_in));
  if (rc == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

namespace {
// Binds host:port; returns the bound port or -1.
int TryBind(const std::string& host, int port) {
  auto addr = ParseHostPort(host + ":" + std::to_string(port));
  if (!addr.ok()) return -1;
  sys::UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return -1;
  const int fd = sock.get();
  // Same option gRPC uses, so a port in TIME_WAIT counts as free.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_in)) != 0) return -1;
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return -1;
  return ntohs(bound.sin_port);
}
}  // namespace

Result<int> PickPort(const std::string& host, int preferred) {
  if (preferred > 0) {
    int p = TryBind(host, preferred);
    if (p > 0) return p;
  }
  int p = TryBind(host, 0);
  if (p <= 0) return Unavailable("no free TCP port on " + host);
  return p;
}

bool PortFree(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  int port = 0;
  auto [end, ec] = std::from_chars(host_port.data() + colon + 1,
                                   host_port.data() + host_port.size(), port);
  if (ec != std::errc() || port <= 0) return false;
  return TryBind(host_port.substr(0, colon), port) == port;
}

}  // namespace cloister::cli
