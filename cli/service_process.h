// Process and port helpers for `cloister cluster`: start a service detached
// (own session, log file, pid file), tell whether a pid is still that
// service (not a zombie, not a recycled pid), stop it, pick free ports.
// The only place the CLI touches processes (via common/sys/process.h), kill
// and sockets.
//
//   CLOISTER_ASSIGN_OR_RETURN(pid_t pid, SpawnDetached(argv, log_path));
//   if (IsServiceProcess(pid, "cloister-auth")) ...
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::cli {

// fork + setsid + exec with stdin from /dev/null and stdout/stderr appended
// to `log_path` (0600). The child is NOT reaped by us after we exit; the
// caller writes the pid file.
Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

// True if `pid` exists, is not a zombie, and its argv[0] has basename
// `binary_name` (guards against a recycled pid after a crash).
bool IsServiceProcess(pid_t pid, const std::string& binary_name);
// Reaps `pid` if it is our child and has exited; true when it is gone.
bool ReapIfExited(pid_t pid);

std::optional<pid_t> ReadPidFile(const std::string& path);

// SIGTERM, wait up to `grace`, then SIGKILL. Returns true if it had to kill.
bool StopProcess(pid_t pid, const std::string& binary_name, std::chrono::milliseconds grace);

// True if a TCP connection to "host:port" succeeds within `timeout`.
bool TcpConnectable(const std::string& host_port, std::chrono::milliseconds timeout);
// `preferred` if it can be bound on `host` now, else a free ephemeral port
// (0 asks for ephemeral directly).
Result<int> PickPort(const std::string& host, int preferred);
// Can "host:port" be bound right now?
bool PortFree(const std::string& host_port);

}  // namespace cloister::cli
