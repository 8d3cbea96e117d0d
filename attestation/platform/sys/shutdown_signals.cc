// Wraps pthread_sigmask/sigwait/pthread_kill for graceful shutdown; see
// shutdown_signals.h.
#include "attestation/platform/sys/shutdown_signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>

namespace cloister::attestation::sys {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

Result<std::unique_ptr<ShutdownSignals>> ShutdownSignals::Install(
    std::function<void(int)> on_signal) {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set = ShutdownSet();
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return ErrnoError(rc, "pthread_sigmask");
  auto s = std::make_unique<ShutdownSignals>(PrivateTag());
  s->on_signal_ = std::move(on_signal);
  ShutdownSignals* self = s.get();
  s->waiter_ = std::thread([self] {
    sigset_t wait_set = ShutdownSet();
    int signo = 0;
    while (::sigwait(&wait_set, &signo) == 0) {
      if (self->stopping_) return;
      self->received_ = signo;
      self->on_signal_(signo);
      return;
    }
  });
  return s;
}

ShutdownSignals::~ShutdownSignals() {
  if (waiter_.joinable()) {
    stopping_ = true;
    // No signal came: send one to the waiter itself; sigwait takes it
    // because the waiter blocks the set like every other thread.
    if (received_ == 0) ::pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
  }
}

}  // namespace cloister::attestation::sys
