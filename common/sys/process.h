// Process: a child process and its one exit-status convention. Spawn (argv,
// env, cwd, stdio redirection, own session or process group, uid/gid),
// fork a function, wait with a timeout, signal, kill. A Process that still
// runs when destroyed is killed (SIGKILL) and reaped, unless Detach()ed.
//
// A raw-C-API wrapper file: the only place Cloister calls fork/exec/
// waitpid/kill for its own children.
//
//   CLOISTER_ASSIGN_OR_RETURN(sys::Process p, sys::Process::Spawn({bin, "--flag"}, {}));
//   CLOISTER_ASSIGN_OR_RETURN(sys::ExitStatus st, p.Wait(std::chrono::seconds(10)));
//   if (!st.success()) LOG(st.ToString());
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::sys {

// How a process ended: exited with `code`, or killed by `signal`. The one
// convention for every caller; ShellCode() gives the shell's 128+signal
// number where a single int is wanted.
struct ExitStatus {
  bool exited = false;  // true: `code` is valid; false: `signal` is valid
  int code = -1;
  int signal = 0;

  static ExitStatus Exited(int code) { return {true, code, 0}; }
  static ExitStatus Signaled(int sig) { return {false, -1, sig}; }
  // From a waitpid(2) status word.
  static ExitStatus FromWaitStatus(int wstatus);

  bool success() const { return exited && code == 0; }
  bool killed_by(int sig) const { return !exited && signal == sig; }
  // Exit code, or 128 + signal (as sh reports it).
  int ShellCode() const { return exited ? code : 128 + signal; }
  // "exit 3" or "signal SIGKILL".
  std::string ToString() const;
  bool operator==(const ExitStatus&) const = default;
};

// Where a standard stream of the child goes.
struct Redirect {
  enum class Kind { kInherit, kDevNull, kTruncate, kAppend, kFd };
  Kind kind = Kind::kInherit;
  std::string path;  // kTruncate / kAppend
  int fd = -1;       // kFd: dup2'd in the child; the caller keeps ownership
  mode_t mode = 0600;

  static Redirect Inherit() { return {}; }
  static Redirect DevNull() { return {Kind::kDevNull, {}, -1, 0}; }
  static Redirect Truncate(std::string path, mode_t mode = 0600) {
    return {Kind::kTruncate, std::move(path), -1, mode};
  }
  static Redirect Append(std::string path, mode_t mode = 0600) {
    return {Kind::kAppend, std::move(path), -1, mode};
  }
  static Redirect ToFd(int fd) { return {Kind::kFd, {}, fd, 0}; }
};

struct SpawnOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) our environment
  bool clear_env = false;                  // start from an empty environment, then `env`
  std::optional<std::string> cwd;
  Redirect stdin_to = Redirect::Inherit();
  Redirect stdout_to = Redirect::Inherit();
  Redirect stderr_to = Redirect::Inherit();
  bool new_session = false;        // setsid(): survives our terminal and our exit
  bool new_process_group = false;  // setpgid(0, 0): a terminal's Ctrl-C does not reach it
  std::optional<gid_t> gid;        // drop to this gid / uid before exec (needs root)
  std::optional<uid_t> uid;
};

// Exit codes of a child that failed before running the program.
inline constexpr int kExitSetupFailed = 126;  // redirect, cwd or uid/gid failed
inline constexpr int kExitExecFailed = 127;   // execve failed (as sh reports it)

class Process {
 public:
  // Starts argv[0] (a path, not searched in PATH). Redirect files are
  // opened in the parent, so a bad path is an error here, not a child exit.
  static Result<Process> Spawn(const std::vector<std::string>& argv,
                               const SpawnOptions& options = {});
  // fork(2) and run `child` in the child, which then _exit(0)s (`child` may
  // _exit itself). Only async-signal-safe work is safe in `child` when the
  // parent has threads; see functions/lua/forked_runner.h for what that means.
  static Result<Process> Fork(const std::function<void()>& child);

  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // Kill() unless exited or detached

  pid_t pid() const { return pid_; }

  // Waits up to `timeout` (zero: just polls). DeadlineExceeded if still
  // running; the status is kept, so later calls return it again.
  Result<ExitStatus> Wait(std::chrono::milliseconds timeout);
  // Waits without limit.
  Result<ExitStatus> WaitForever();
  // True until the child has been reaped.
  bool Running();
  // kill(2); a no-op once the child was reaped.
  void Signal(int sig);
  // `sig`, then wait up to `timeout`.
  Result<ExitStatus> Stop(int sig, std::chrono::milliseconds timeout);
  // SIGKILL and reap (waits up to 10 s).
  void Kill();
  // Stops owning the child: it is neither killed nor reaped by us. Returns its pid.
  pid_t Detach();

  std::optional<ExitStatus> status() const { return status_; }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

// What RunCapturingStdout saw: how the child ended and what it wrote.
struct CapturedRun {
  ExitStatus status;
  std::string out;  // its standard output
};
// Runs argv to completion with its stdout read through a pipe (stdin and
// stderr as `options` say; options.stdout_to is replaced). More than
// `max_stdout_bytes` of output is ResourceExhausted and the child is killed.
Result<CapturedRun> RunCapturingStdout(const std::vector<std::string>& argv,
                                       SpawnOptions options, size_t max_stdout_bytes);

// "SIGKILL" for 9; the number for a signal without a name.
std::string SignalName(int sig);

// Reaps `pid` if it is our child and has exited; true when it was reaped.
bool ReapIfExited(pid_t pid);

// True if `pid` exists and is not a zombie (reads /proc/<pid>/stat).
bool ProcessAlive(pid_t pid);

}  // namespace cloister::sys
