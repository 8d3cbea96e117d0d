// Raw fork/ptrace/waitpid for the test tracer; see tracer.h.
#include "attestation/platform/testing/sys/tracer.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace cloister::attestation::testing::sys {

Result<Tracer> Tracer::Attach(pid_t target) {
  int fds[2];
  if (::pipe(fds) != 0) return ErrnoError(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and _exit.
    ::close(fds[0]);
    char ok = ::ptrace(PTRACE_SEIZE, target, nullptr, nullptr) == 0 ? 1 : 0;
    [[maybe_unused]] ssize_t n = ::write(fds[1], &ok, 1);
    ::close(fds[1]);
    if (!ok) ::_exit(1);
    for (;;) {
      int st = 0;
      if (::waitpid(target, &st, __WALL) < 0) ::_exit(0);
      if (WIFEXITED(st) || WIFSIGNALED(st)) ::_exit(0);
      if (WIFSTOPPED(st)) {
        int sig = WSTOPSIG(st);
        ::ptrace(PTRACE_CONT, target, nullptr, reinterpret_cast<void*>(static_cast<long>(
                                                   sig == SIGTRAP || sig == SIGSTOP ? 0 : sig)));
      }
    }
  }
  ::close(fds[1]);
  char ok = 0;
  ssize_t n;
  do {
    n = ::read(fds[0], &ok, 1);
  } while (n < 0 && errno == EINTR);
  ::close(fds[0]);
  Tracer t(pid);
  if (n != 1 || ok != 1) return Internal("PTRACE_SEIZE of pid " + std::to_string(target) + " failed");
  return t;
}

Tracer::Tracer(Tracer&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}

Tracer::~Tracer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace cloister::attestation::testing::sys
