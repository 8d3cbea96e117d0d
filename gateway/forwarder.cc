// The generic entry point and its worker pool; see forwarder.h.
//
// gRPC's callback API owns each reactor: CreateReactor returns a new one and
// the reactor deletes itself in OnDone. Those are the gateway's only
// new/delete pairs, required by the API and kept in this file and
// stream_relay.cc.
#include "gateway/forwarder.h"

#include "common/grpc_status.h"
#include "gateway/stream_relay.h"

namespace cloister::gateway {
namespace {

grpc::Status Busy(const std::string& what) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "the gateway is " + what + "; retry shortly", "GATEWAY_BUSY");
}

// A call refused before anything of it is read: more than max_calls at once.
class RefusedReactor final : public grpc::ServerGenericBidiReactor {
 public:
  RefusedReactor(Forwarder* forwarder, grpc::Status status) : forwarder_(forwarder) {
    Finish(std::move(status));
  }
  void OnDone() override {
    forwarder_->CallDone();
    delete this;
  }

 private:
  Forwarder* forwarder_;
};

// One unary call: admit it to be read, read the single request, let a
// worker handle it, write the reply and finish.
class UnaryReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryReactor(grpc::GenericCallbackServerContext* ctx, Forwarder* forwarder)
      : ctx_(ctx), forwarder_(forwarder) {
    forwarder_->BeforeRead(
        ctx_,
        [this](bool anonymous) {
          anonymous_ = anonymous;
          StartRead(&request_);
        },
        [this](grpc::Status s) { Finish(std::move(s)); });
  }

  void OnReadDone(bool ok) override {
    if (anonymous_) forwarder_->AfterAnonymousRead(ctx_);
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

  void OnDone() override {
    forwarder_->CallDone();
    delete this;
  }

 private:
  grpc::GenericCallbackServerContext* ctx_;
  Forwarder* forwarder_;
  bool anonymous_ = false;  // set before the read starts, read after it ends
  grpc::ByteBuffer request_;
  Reply reply_;
};

}  // namespace

Forwarder::Forwarder(Gateway* gateway, int workers, ForwarderLimits limits)
    : gateway_(gateway), limits_(limits), anonymous_reads_(limits.anonymous_reads) {
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
  // Counted from here to the reactor's OnDone, so the bound covers calls
  // waiting for a worker, for a read slot, or for their backend.
  if (in_flight_.fetch_add(1) >= limits_.max_calls)
    return new RefusedReactor(this, Busy("holding as many calls as it takes at once (" +
                                         std::to_string(limits_.max_calls) + ")"));
  // Uploads and downloads are relayed message by message; every other call
  // (unknown methods included: AdmitRead refuses them) is one request, one
  // reply.
  const rpc::MethodEntry* m = rpc::MethodTable::Get().Find(ctx->method());
  if (m != nullptr && m->is_public() && (m->client_streaming || m->server_streaming))
    return new StreamRelay(ctx, this);
  return new UnaryReactor(ctx, this);
}

void Forwarder::BeforeRead(grpc::GenericCallbackServerContext* ctx, std::function<void(bool)> read,
                           std::function<void(grpc::Status)> refuse) {
  Submit([this, ctx, read = std::move(read), refuse = std::move(refuse)]() mutable {
    Result<ReadAdmission> admitted = gateway_->AdmitRead(*ctx, ctx->method());
    if (!admitted.ok()) {
      refuse(ToGrpcStatus(admitted.error()));
      return;
    }
    if (!admitted->anonymous) {
      read(false);
      return;
    }
    anonymous_reads_.Acquire(
        ctx, [read = std::move(read), refuse = std::move(refuse)](bool granted) {
          if (granted)
            read(true);
          else
            refuse(Busy("reading as many requests without a credential as it does at once"));
        });
  });
}

void Forwarder::AfterAnonymousRead(grpc::GenericCallbackServerContext* ctx) {
  anonymous_reads_.Release(ctx);
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
