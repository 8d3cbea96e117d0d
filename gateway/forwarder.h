// Forwarder: the gateway's gRPC entry point. A generic callback service
// receives every call as bytes, whatever its method, and hands it to a
// fixed pool of worker threads that run Gateway::Handle (which blocks on
// the filters, the audit sync and the backend), then sends the reply.
// Unknown and internal methods get UNIMPLEMENTED [METHOD_UNKNOWN].
#pragma once

#include <grpcpp/generic/async_generic_service.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/gateway.h"

namespace cloister::gateway {

class Forwarder final : public grpc::CallbackGenericService {
 public:
  // `gateway` must outlive this service; `workers` threads handle calls.
  Forwarder(Gateway* gateway, int workers);
  ~Forwarder() override;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // Queues `job` for a worker thread.
  void Submit(std::function<void()> job);
  Gateway* gateway() { return gateway_; }

 private:
  void Work();

  Gateway* gateway_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace cloister::gateway
