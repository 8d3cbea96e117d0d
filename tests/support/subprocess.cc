// Test process control; wraps fork/exec/waitpid. See subprocess.h.
#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/fs.h"

namespace cloister::testing {

Result<Subprocess> Subprocess::Start(const std::vector<std::string>& argv,
                                     const SubprocessOptions& options) {
  if (argv.empty()) return InvalidArgument("empty argv");
  Subprocess p;
  static int counter = 0;
  std::string prefix = options.log_prefix.empty()
                           ? "/tmp/cloister-test-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(counter++)
                           : options.log_prefix;
  p.out_path_ = prefix + ".out";
  p.err_path_ = prefix + ".err";
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const auto& [k, v] : options.env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) {
    int out = ::open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) ::dup2(out, 1);
    if (err >= 0) ::dup2(err, 2);
    ::setpgid(0, 0);
    if (options.gid && ::setgid(*options.gid) != 0) ::_exit(126);
    if (options.uid) {
      ::setgroups(0, nullptr);
      if (::setuid(*options.uid) != 0) ::_exit(126);
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  p.pid_ = pid;
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(o.pid_), out_path_(std::move(o.out_path_)), err_path_(std::move(o.err_path_)),
      status_(o.status_) {
  o.pid_ = -1;
}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    Kill();
    pid_ = o.pid_;
    out_path_ = std::move(o.out_path_);
    err_path_ = std::move(o.err_path_);
    status_ = o.status_;
    o.pid_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() { Kill(); }

Result<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (status_) return *status_;
  if (pid_ < 0) return FailedPrecondition("no process");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return *status_;
    }
    if (r < 0 && errno != EINTR) return ErrnoError(errno, "waitpid");
    if (std::chrono::steady_clock::now() >= deadline)
      return DeadlineExceeded("process " + std::to_string(pid_) + " still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Subprocess::Running() {
  if (pid_ < 0 || status_) return false;
  return !Wait(std::chrono::milliseconds(0)).ok();
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

void Subprocess::Kill() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    (void)Wait(std::chrono::seconds(10));
  }
}

std::string Subprocess::Stdout() const {
  auto r = ReadFile(out_path_);
  return r.ok() ? *r : "";
}
std::string Subprocess::Stderr() const {
  auto r = ReadFile(err_path_);
  return r.ok() ? *r : "";
}

Result<RunResult> RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                      const SubprocessOptions& options) {
  CLOISTER_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start(argv, options));
  auto code = p.Wait(timeout);
  if (!code.ok()) {
    p.Kill();
    return DeadlineExceeded("timed out: " + argv[0] + "\nstderr: " + p.Stderr());
  }
  return RunResult{*code, p.Stdout(), p.Stderr()};
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/cloister-test-XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  if (d == nullptr) std::abort();
  path_ = d;
  ::chmod(path_.c_str(), 0755);  // non-root test clients must reach sockets inside
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<std::string> ReadCmdline(int pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  std::vector<std::string> argv;
  if (!text.ok()) return argv;
  std::string cur;
  for (char c : *text) {
    if (c == '\0') {
      argv.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return argv;
}

}  // namespace cloister::testing
