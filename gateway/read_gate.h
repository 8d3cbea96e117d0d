// ReadGate: how many requests without a credential the gateway reads at
// once (issue 11). gRPC 1.51 buffers a request message whole once a read is
// started, whatever length its 5-byte prefix declares (past the server's
// max receive size too: measured, docs/operations.md "Resource bounds"), so
// the only way to bound what anonymous callers make the gateway hold is to
// start few of their reads at a time. A call waits for a slot without being
// read (HTTP/2 flow control holds the sender to its stream window); a slot
// held longer than max_read is cancelled (a slow sender), a wait longer than
// max_wait or a full queue is refused.
//
//   gate.Acquire(ctx, [](bool granted) { granted ? StartRead(...) : Finish(busy); });
//   ... OnReadDone: gate.Release(ctx);
#pragma once

#include <grpcpp/server_context.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cloister::gateway {

struct ReadGateLimits {
  int slots = 2;                             // reads in progress at once
  int max_waiting = 256;                     // calls waiting for a slot; more are refused at once
  std::chrono::milliseconds max_wait{5000};  // then refused
  std::chrono::milliseconds max_read{2000};  // then the call is cancelled
};

class ReadGate {
 public:
  // Called once per Acquire: true when the call holds a slot (start the
  // read, then Release), false when refused (finish the call, no Release).
  using Granted = std::function<void(bool granted)>;

  explicit ReadGate(ReadGateLimits limits = {});
  ~ReadGate();
  ReadGate(const ReadGate&) = delete;
  ReadGate& operator=(const ReadGate&) = delete;

  // `granted` runs on this thread (a free slot, or the queue is full), on
  // the thread of a Release (the next slot), or on the gate's own thread
  // (the wait timed out). `ctx` must stay valid until then, and while the
  // slot is held.
  void Acquire(grpc::ServerContextBase* ctx, Granted granted);
  // The read of a call that holds a slot finished (either way). Exactly
  // once per granted Acquire, before the call can end.
  void Release(grpc::ServerContextBase* ctx);

  // For tests and logs.
  int held() const;
  int waiting() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Holder {
    grpc::ServerContextBase* ctx;
    Clock::time_point deadline;
    bool cancelled = false;
  };
  struct Waiter {
    grpc::ServerContextBase* ctx;
    Clock::time_point deadline;
    Granted granted;
  };
  void Reap();

  const ReadGateLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Holder> holders_;  // guarded by mu_
  std::deque<Waiter> waiters_;   // guarded by mu_
  bool stop_ = false;            // guarded by mu_
  std::thread reaper_;           // last: started once the rest exists
};

}  // namespace cloister::gateway
