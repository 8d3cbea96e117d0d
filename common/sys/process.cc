// fork/execve/waitpid/kill for Cloister's child processes; see process.h.
#include "common/sys/process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "common/fs.h"
#include "common/sys/unique_fd.h"

extern char** environ;

namespace cloister::sys {
namespace {

// The fd a Redirect resolves to in the parent: opened here (owned) or the
// caller's; -1 for "inherit".
struct OpenedRedirect {
  UniqueFd owned;
  int fd = -1;
};

Result<OpenedRedirect> OpenRedirect(const Redirect& r, bool for_reading) {
  OpenedRedirect out;
  switch (r.kind) {
    case Redirect::Kind::kInherit:
      return out;
    case Redirect::Kind::kFd:
      out.fd = r.fd;
      return out;
    case Redirect::Kind::kDevNull: {
      CLOISTER_ASSIGN_OR_RETURN(out.owned, OpenFd("/dev/null", for_reading ? O_RDONLY : O_WRONLY));
      break;
    }
    case Redirect::Kind::kTruncate: {
      CLOISTER_ASSIGN_OR_RETURN(out.owned, OpenFd(r.path, O_WRONLY | O_CREAT | O_TRUNC, r.mode));
      break;
    }
    case Redirect::Kind::kAppend: {
      CLOISTER_ASSIGN_OR_RETURN(out.owned, OpenFd(r.path, O_WRONLY | O_CREAT | O_APPEND, r.mode));
      break;
    }
  }
  out.fd = out.owned.get();
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The child side of Spawn, between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const SpawnOptions& o, const int stdio[3], char* const* argv,
                            char* const* envp, const char* cwd) {
  if (o.new_session) ::setsid();
  else if (o.new_process_group) ::setpgid(0, 0);
  for (int target = 0; target < 3; ++target)
    if (stdio[target] >= 0 && ::dup2(stdio[target], target) < 0) ::_exit(kExitSetupFailed);
  if (cwd != nullptr && ::chdir(cwd) != 0) ::_exit(kExitSetupFailed);
  if (o.gid && ::setgid(*o.gid) != 0) ::_exit(kExitSetupFailed);
  if (o.uid) {
    ::setgroups(0, nullptr);
    if (::setuid(*o.uid) != 0) ::_exit(kExitSetupFailed);
  }
  ::execve(argv[0], argv, envp);
  static const char kMsg[] = "cloister: exec failed\n";
  (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  ::_exit(kExitExecFailed);
}

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return Exited(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return Signaled(WTERMSIG(wstatus));
  return Exited(-1);
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(sig);
}

std::string ExitStatus::ToString() const {
  return exited ? "exit " + std::to_string(code) : "signal " + SignalName(signal);
}

Result<Process> Process::Spawn(const std::vector<std::string>& argv,
                               const SpawnOptions& options) {
  if (argv.empty()) return InvalidArgument("empty argv");
  CLOISTER_ASSIGN_OR_RETURN(OpenedRedirect in, OpenRedirect(options.stdin_to, true));
  CLOISTER_ASSIGN_OR_RETURN(OpenedRedirect out, OpenRedirect(options.stdout_to, false));
  CLOISTER_ASSIGN_OR_RETURN(OpenedRedirect err, OpenRedirect(options.stderr_to, false));
  const int stdio[3] = {in.fd, out.fd, err.fd};

  // Everything the child needs is built before fork: it may not allocate.
  std::vector<std::string> args = argv;
  std::vector<std::string> envs;
  for (char** e = environ; !options.clear_env && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    if (!options.env.contains(name)) envs.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv = CStrings(args);
  std::vector<char*> cenv = CStrings(envs);
  const char* cwd = options.cwd ? options.cwd->c_str() : nullptr;

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) ExecChild(options, stdio, cargv.data(), cenv.data(), cwd);
  return Process(pid);
}

Result<Process> Process::Fork(const std::function<void()>& child) {
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  return Process(pid);
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), status_(std::exchange(o.status_, std::nullopt)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Kill();
    pid_ = std::exchange(o.pid_, -1);
    status_ = std::exchange(o.status_, std::nullopt);
  }
  return *this;
}

Process::~Process() { Kill(); }

Result<ExitStatus> Process::Wait(std::chrono::milliseconds timeout) {
  if (status_) return *status_;
  if (pid_ < 0) return FailedPrecondition("no process");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Short first naps: most waits follow an exit that is already under way.
  auto nap = std::chrono::microseconds(100);
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = ExitStatus::FromWaitStatus(st);
      return *status_;
    }
    if (r < 0 && errno != EINTR) return ErrnoError(errno, "waitpid");
    if (std::chrono::steady_clock::now() >= deadline)
      return DeadlineExceeded("process " + std::to_string(pid_) + " still running");
    std::this_thread::sleep_for(nap);
    nap = std::min<std::chrono::microseconds>(nap * 2, std::chrono::milliseconds(5));
  }
}

Result<ExitStatus> Process::WaitForever() {
  if (status_) return *status_;
  if (pid_ < 0) return FailedPrecondition("no process");
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &st, 0);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) return ErrnoError(errno, "waitpid");
  }
  status_ = ExitStatus::FromWaitStatus(st);
  return *status_;
}

bool Process::Running() {
  if (pid_ < 0 || status_) return false;
  return !Wait(std::chrono::milliseconds(0)).ok();
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

Result<ExitStatus> Process::Stop(int sig, std::chrono::milliseconds timeout) {
  Signal(sig);
  return Wait(timeout);
}

void Process::Kill() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10)).status().IgnoreError();
  }
}

pid_t Process::Detach() {
  status_.reset();
  return std::exchange(pid_, -1);
}

Result<CapturedRun> RunCapturingStdout(const std::vector<std::string>& argv,
                                       SpawnOptions options, size_t max_stdout_bytes) {
  CLOISTER_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  options.stdout_to = Redirect::ToFd(pipe.write.get());
  CLOISTER_ASSIGN_OR_RETURN(Process child, Process::Spawn(argv, options));
  pipe.write.Reset();  // EOF once the child (and whatever it left running) closes stdout
  CapturedRun run;
  // Too much output: the error returns and `child` is killed and reaped.
  CLOISTER_ASSIGN_OR_RETURN(run.out, ReadToEnd(pipe.read.get(), max_stdout_bytes));
  CLOISTER_ASSIGN_OR_RETURN(run.status, child.WaitForever());
  return run;
}

bool ReapIfExited(pid_t pid) {
  int st = 0;
  return ::waitpid(pid, &st, WNOHANG) == pid;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return false;
  // Format: "pid (comm) S ..."; comm may contain spaces, so find the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return false;
  char state = (*stat)[close + 2];
  return state != 'Z' && state != 'X';
}

}  // namespace cloister::sys
