// The streaming relay; see stream_relay.h.
//
// gRPC's callback API owns both reactors: Forwarder::CreateReactor returns a
// new StreamRelay and the relay deletes itself once the client call's OnDone
// and the backend call's OnDone have both run (refs_). Decisions are taken
// under mu_; the gRPC operations they lead to are started after unlocking,
// because a reaction may run on any thread and takes mu_ itself.
//
// The backend call carries two holds (ClientBidiReactor::AddHold): one while
// the relay may still write to it (released after WritesDone, or when the
// backend or the client ends) and one while it may still read (released at
// the end of the backend's responses, or when the client is gone). Without
// them the backend call could finish between two reactions and a later
// StartWrite/StartRead would touch a finished call.
#include "gateway/stream_relay.h"

#include "common/grpc_status.h"
#include "gateway/forwarder.h"

namespace cloister::gateway {
namespace {

grpc::ByteBuffer FromBytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

StreamRelay::StreamRelay(grpc::GenericCallbackServerContext* ctx, Forwarder* forwarder)
    : ctx_(ctx), forwarder_(forwarder), gateway_(forwarder->gateway()) {
  forwarder_->BeforeRead(
      ctx_,
      [this](bool anonymous) {
        anonymous_ = anonymous;
        StartRead(&from_client_);
      },
      [this](grpc::Status s) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          FinishLocked(std::move(s));
        }
        MaybeFinish();
      });
}

StreamRelay::~StreamRelay() {
  if (slot_) gateway_->CloseStream();
}

void StreamRelay::OnReadDone(bool ok) {
  if (!first_read_done_) {
    first_read_done_ = true;
    if (anonymous_) forwarder_->AfterAnonymousRead(ctx_);
  }
  bool admit = false, writes_done = false, remove_hold = false, write = false, cancel = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "no request message for " + ctx_->method(),
                                  "REQUEST_MALFORMED"));
      } else {
        admit = true;
      }
    } else if (!ok) {
      // The client half-closed: no more requests.
      if (write_hold_ && !backend_closed_) writes_done = true;
      if (write_hold_) {
        write_hold_ = false;
        remove_hold = true;
      }
    } else if (backend_closed_ || backend_done_) {
      // The backend already ended the call; its status will be the answer.
      if (write_hold_) {
        write_hold_ = false;
        remove_hold = true;
      }
    } else {
      Status st = method_->client_streaming
                      ? gateway_->CheckStreamMessage(*method_, from_client_)
                      : InvalidArgument(method_->name + " takes exactly one request message",
                                        "REQUEST_MALFORMED");
      if (!st.ok()) {
        relay_error_ = ToGrpcStatus(st);
        cancel = true;
        if (write_hold_) {
          write_hold_ = false;
          remove_hold = true;
        }
      } else {
        backend_write_pending_ = true;
        write = true;
      }
    }
  }
  if (admit) {
    forwarder_->Submit([this] { Admit(); });
    return;
  }
  if (cancel) backend_ctx_.TryCancel();
  if (writes_done) backend_.StartWritesDone();
  if (write) backend_.StartWrite(&from_client_);
  if (remove_hold) backend_.RemoveHold();
  MaybeFinish();
}

void StreamRelay::Admit() {
  bool slot = gateway_->TryOpenStream();
  Result<StreamStart> admitted =
      slot ? gateway_->AdmitStream(*ctx_, ctx_->method(), from_client_, backend_ctx_)
           : Result<StreamStart>(ResourceExhausted(
                 "the gateway relays at most " + std::to_string(kMaxOpenStreams) +
                     " uploads and downloads at once; retry shortly",
                 "STREAMS_EXHAUSTED"));
  std::unique_lock<std::mutex> lock(mu_);
  slot_ = slot;
  if (!admitted.ok()) {
    FinishLocked(ToGrpcStatus(admitted.error()));
    lock.unlock();
    MaybeFinish();
    return;
  }
  method_ = admitted->method;
  request_id_ = admitted->request_id;
  from_client_ = FromBytes(admitted->first);
  // A stream lasts as long as its transfer: the client's deadline, if any,
  // bounds it (not the unary forwarding timeout).
  if (ctx_->deadline() != std::chrono::system_clock::time_point::max())
    backend_ctx_.set_deadline(ctx_->deadline());
  started_ = true;
  write_hold_ = read_hold_ = true;
  backend_write_pending_ = true;
  const bool cancelled = cancelled_;
  refs_.fetch_add(1);
  lock.unlock();
  gateway_->StubFor(method_->backend)
      .PrepareBidiStreamingCall(&backend_ctx_, method_->full_method, grpc::StubOptions(),
                                &backend_);
  backend_.AddMultipleHolds(2);
  backend_.StartWrite(&from_client_);
  backend_.StartRead(&from_backend_);
  backend_.StartCall();
  if (cancelled) backend_ctx_.TryCancel();
}

void StreamRelay::BackendWriteDone(bool ok) {
  bool read = false, remove_hold = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    backend_write_pending_ = false;
    if (ok && !backend_closed_ && !finished_ && !finish_wanted_) {
      read = true;  // the next request message
    } else if (write_hold_) {
      write_hold_ = false;
      remove_hold = true;
    }
  }
  if (read) StartRead(&from_client_);
  if (remove_hold) backend_.RemoveHold();
}

void StreamRelay::BackendReadDone(bool ok) {
  bool write = false, remove_read = false, remove_write = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok && !finished_ && !finish_wanted_) {
      client_write_pending_ = true;
      write = true;
    } else {
      // The backend sent its last response (or the call is ending): nothing
      // more to read; and if no write is in flight, nothing more to write.
      backend_closed_ = true;
      if (read_hold_) {
        read_hold_ = false;
        remove_read = true;
      }
      if (write_hold_ && !backend_write_pending_) {
        write_hold_ = false;
        remove_write = true;
      }
    }
  }
  if (write) StartWrite(&from_backend_);
  if (remove_read) backend_.RemoveHold();
  if (remove_write) backend_.RemoveHold();
}

void StreamRelay::OnWriteDone(bool ok) {
  bool read = false, remove_hold = false, cancel = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    client_write_pending_ = false;
    if (ok && !backend_closed_ && !finish_wanted_) {
      read = true;  // the next response
    } else {
      if (!ok) cancel = true;  // the client is gone
      if (read_hold_) {
        read_hold_ = false;
        remove_hold = true;
      }
    }
  }
  if (cancel) backend_ctx_.TryCancel();
  if (read) backend_.StartRead(&from_backend_);
  if (remove_hold) backend_.RemoveHold();
  MaybeFinish();
}

void StreamRelay::BackendDone(const grpc::Status& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    backend_done_ = true;
    FinishLocked(relay_error_.ok() ? PublicStatus(s, method_->backend, request_id_)
                                   : relay_error_);
  }
  MaybeFinish();
  Unref();
}

void StreamRelay::OnCancel() {
  bool started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    started = started_;
  }
  if (started) backend_ctx_.TryCancel();
}

void StreamRelay::OnDone() {
  forwarder_->CallDone();
  Unref();
}

void StreamRelay::FinishLocked(grpc::Status s) {
  if (finished_ || finish_wanted_) return;
  finish_wanted_ = true;
  pending_status_ = std::move(s);
}

void StreamRelay::MaybeFinish() {
  grpc::Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Finish only once no write to the client is in flight, and once the
    // backend call (if any) is done, so its status is the answer.
    if (!finish_wanted_ || finished_ || client_write_pending_) return;
    if (started_ && !backend_done_) return;
    finished_ = true;
    s = pending_status_;
  }
  Finish(std::move(s));
}

void StreamRelay::Unref() {
  if (refs_.fetch_sub(1) == 1) delete this;
}

}  // namespace cloister::gateway
