// Forwarder: the gateway's gRPC entry point. A generic callback service
// receives every call as bytes, whatever its method, and hands it to a
// fixed pool of worker threads that run Gateway::Handle (which blocks on
// the filters, the audit sync and the backend), then sends the reply.
// Unknown and internal methods get UNIMPLEMENTED [METHOD_UNKNOWN].
//
// No request is read before it is admitted to be (issue 11; docs/
// operations.md, "Resource bounds"): at most max_calls calls at once
// (GATEWAY_BUSY beyond, unread), Gateway::AdmitRead on a worker (the
// method is public, the credential verifies, an anonymous call is to a
// method open to anonymous callers), and for a call without a credential
// one of the ReadGate's few slots, because gRPC buffers a message whole
// once its read starts.
#pragma once

#include <grpcpp/generic/async_generic_service.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/gateway.h"
#include "gateway/read_gate.h"

namespace cloister::gateway {

struct ForwarderLimits {
  // Calls held at once, from their arrival to their end (unary and
  // streams together; streams also need one of kMaxOpenStreams).
  int max_calls = 256;
  ReadGateLimits anonymous_reads;
};

class Forwarder final : public grpc::CallbackGenericService {
 public:
  // `gateway` must outlive this service; `workers` threads handle calls.
  Forwarder(Gateway* gateway, int workers, ForwarderLimits limits = {});
  ~Forwarder() override;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // Queues `job` for a worker thread.
  void Submit(std::function<void()> job);
  Gateway* gateway() { return gateway_; }

  // Before a call's first request message is read: admission on a worker
  // (see the file comment), then `read(anonymous)` to start the read, or
  // `refuse(status)` to end the call unread. Exactly one of them runs.
  void BeforeRead(grpc::GenericCallbackServerContext* ctx, std::function<void(bool)> read,
                  std::function<void(grpc::Status)> refuse);
  // The first read of a call that BeforeRead admitted as anonymous is done
  // (either way): its ReadGate slot goes to the next such call.
  void AfterAnonymousRead(grpc::GenericCallbackServerContext* ctx);
  // A reactor's OnDone: one call fewer in flight.
  void CallDone() { in_flight_.fetch_sub(1); }

 private:
  void Work();

  Gateway* gateway_;
  const ForwarderLimits limits_;
  std::atomic<int> in_flight_{0};
  ReadGate anonymous_reads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace cloister::gateway
