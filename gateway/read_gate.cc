// The bounded set of anonymous request reads; see read_gate.h.
//
// Callbacks (`granted`) always run with mu_ released: they start a gRPC
// read or finish a call, and a reaction to either may come back here.
#include "gateway/read_gate.h"

#include <algorithm>

namespace cloister::gateway {

ReadGate::ReadGate(ReadGateLimits limits) : limits_(limits) {
  reaper_ = std::thread([this] { Reap(); });
}

ReadGate::~ReadGate() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  reaper_.join();
  // The server is shut down before the gate goes: no call waits any more.
  std::deque<Waiter> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(waiters_);
  }
  for (auto& w : left) w.granted(false);
}

void ReadGate::Acquire(grpc::ServerContextBase* ctx, Granted granted) {
  bool now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto t = Clock::now();
    if (static_cast<int>(holders_.size()) < limits_.slots && waiters_.empty()) {
      holders_.push_back({ctx, t + limits_.max_read});
      now = true;
    } else if (static_cast<int>(waiters_.size()) < limits_.max_waiting) {
      waiters_.push_back({ctx, t + limits_.max_wait, std::move(granted)});
      return;
    }
  }
  granted(now);
}

void ReadGate::Release(grpc::ServerContextBase* ctx) {
  Granted next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(holders_.begin(), holders_.end(),
                           [ctx](const Holder& h) { return h.ctx == ctx; });
    if (it != holders_.end()) holders_.erase(it);
    if (!waiters_.empty() && static_cast<int>(holders_.size()) < limits_.slots) {
      Waiter w = std::move(waiters_.front());
      waiters_.pop_front();
      holders_.push_back({w.ctx, Clock::now() + limits_.max_read});
      next = std::move(w.granted);
    }
  }
  if (next) next(true);
}

int ReadGate::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(holders_.size());
}

int ReadGate::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(waiters_.size());
}

void ReadGate::Reap() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));
    const auto now = Clock::now();
    // A slot held too long: the sender is slow (or sends far more than an
    // anonymous request may hold). Cancelling ends its pending read, whose
    // OnReadDone releases the slot; until then the holder stays listed, so
    // its context is never touched after the call is gone.
    for (Holder& h : holders_) {
      if (!h.cancelled && now >= h.deadline) {
        h.ctx->TryCancel();
        h.cancelled = true;
      }
    }
    std::vector<Granted> refused;
    while (!waiters_.empty() && now >= waiters_.front().deadline) {
      refused.push_back(std::move(waiters_.front().granted));
      waiters_.pop_front();
    }
    if (refused.empty()) continue;
    lock.unlock();
    for (auto& g : refused) g(false);
    lock.lock();
  }
}

}  // namespace cloister::gateway
