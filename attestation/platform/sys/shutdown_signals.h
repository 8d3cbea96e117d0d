// Wraps POSIX signal masking and sigwait(2): SIGTERM/SIGINT are blocked in
// every thread and delivered to one waiter thread, which runs a plain C++
// callback (no async-signal-safety constraints on it).
//
//   auto sig = sys::ShutdownSignals::Install([&] { server->Shutdown(); });
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "common/result.h"

namespace cloister::attestation::sys {

class ShutdownSignals {
 public:
  // Call before starting other threads so they inherit the blocked mask.
  // Also ignores SIGPIPE (sockets use MSG_NOSIGNAL, this covers the rest).
  static Result<std::unique_ptr<ShutdownSignals>> Install(std::function<void(int signo)> on_signal);
  ~ShutdownSignals();  // stops the waiter thread
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;
  // The signal that arrived, 0 if none.
  int received() const { return received_; }

 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  explicit ShutdownSignals(PrivateTag) {}

 private:
  std::function<void(int)> on_signal_;
  std::atomic<int> received_{0};
  std::atomic<bool> stopping_{false};
  std::thread waiter_;
};

}  // namespace cloister::attestation::sys
