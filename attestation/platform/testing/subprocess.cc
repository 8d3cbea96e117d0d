// Wraps posix_spawn/pipe/waitpid/kill for the integration tests; see
// subprocess.h.
#include "attestation/platform/testing/subprocess.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <thread>

extern char** environ;

namespace cloister::attestation::testing {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

Result<RunOutput> RunCapture(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  auto envp = Argv(env_strings);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  pid_t pid = -1;
  auto args = Argv(argv);
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return ErrnoError(rc, "posix_spawn " + argv[0]);
  }
  RunOutput out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_code = DecodeStatus(status);
  size_t pos = 0;
  while (pos < out.out.size()) {
    size_t end = out.out.find('\n', pos);
    if (end == std::string::npos) end = out.out.size();
    std::string line = out.out.substr(pos, end - pos);
    auto eq = line.find('=');
    if (eq != std::string::npos) out.kv[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

Result<Child> Child::Spawn(const std::vector<std::string>& argv) {
  pid_t pid = -1;
  auto args = Argv(argv);
  int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return ErrnoError(rc, "posix_spawn " + argv[0]);
  return Child(pid);
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) Stop(SIGKILL, 5000).status().IgnoreError();
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}
Child::~Child() {
  if (pid_ > 0) Stop(SIGKILL, 5000).status().IgnoreError();
}

bool Child::Running() {
  if (pid_ <= 0) return false;
  if (::waitpid(pid_, nullptr, WNOHANG) == 0) return true;
  pid_ = -1;  // reaped (or not our child any more)
  return false;
}

Result<int> Child::Wait(int timeout_ms) {
  if (pid_ <= 0) return FailedPrecondition("no child");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return DecodeStatus(status);
    }
    if (r < 0 && errno != EINTR) return ErrnoError(errno, "waitpid");
    if (std::chrono::steady_clock::now() > deadline) return DeadlineExceeded("child still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<int> Child::Stop(int signo, int timeout_ms) {
  if (pid_ <= 0) return FailedPrecondition("no child");
  ::kill(pid_, signo);
  return Wait(timeout_ms);
}

}  // namespace cloister::attestation::testing
