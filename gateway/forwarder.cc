// The generic entry point and its worker pool; see forwarder.h.
//
// gRPC's callback API owns each reactor: CreateReactor returns a new one and
// the reactor deletes itself in OnDone. Those are the gateway's only
// new/delete pairs, required by the API and kept in this file and
// stream_relay.cc.
#include "gateway/forwarder.h"

#include "gateway/stream_relay.h"

namespace cloister::gateway {
namespace {

// One unary call: read the single request, let a worker handle it, write the
// reply and finish.
class UnaryReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryReactor(grpc::GenericCallbackServerContext* ctx, Forwarder* forwarder)
      : ctx_(ctx), forwarder_(forwarder) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "no request message for " + ctx_->method(), "REQUEST_MALFORMED"));
      return;
    }
    forwarder_->Submit([this] {
      reply_ = forwarder_->gateway()->Handle(*ctx_, ctx_->method(), request_);
      if (reply_.status.ok()) {
        StartWriteAndFinish(&reply_.body, grpc::WriteOptions(), grpc::Status::OK);
      } else {
        Finish(reply_.status);
      }
    });
  }

  void OnDone() override { delete this; }

 private:
  grpc::GenericCallbackServerContext* ctx_;
  Forwarder* forwarder_;
  grpc::ByteBuffer request_;
  Reply reply_;
};

}  // namespace

Forwarder::Forwarder(Gateway* gateway, int workers) : gateway_(gateway) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

Forwarder::~Forwarder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

grpc::ServerGenericBidiReactor* Forwarder::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  // Uploads and downloads are relayed message by message; every other call
  // (unknown methods included: Handle refuses them) is one request, one reply.
  const rpc::MethodEntry* m = rpc::MethodTable::Get().Find(ctx->method());
  if (m != nullptr && m->is_public() && (m->client_streaming || m->server_streaming))
    return new StreamRelay(ctx, this);
  return new UnaryReactor(ctx, this);
}

void Forwarder::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Forwarder::Work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace cloister::gateway
