// StreamRelay: one streaming public call (an upload: many request messages,
// or a download: many responses) relayed between the client and its
// backend. Nothing is read before Forwarder::BeforeRead admits the call
// (method, credential, a read slot when anonymous: issue 11). The first
// request message then goes through the whole pipeline
// (Gateway::AdmitStream: credential, policy, rate limit, audit, grant);
// after that the relay pumps each direction with one message in flight, so
// a 4 GiB upload holds at most a message or two per direction in the
// gateway (gRPC's flow control pushes back on the sender).
//
// Ends: the backend's status is the call's status (through PublicStatus);
// a client that goes away cancels the backend call; a garbage or oversized
// later message ends both with INVALID_ARGUMENT.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <mutex>
#include <string>

#include "gateway/gateway.h"

namespace cloister::gateway {

class Forwarder;

class StreamRelay final : public grpc::ServerGenericBidiReactor {
 public:
  // Deletes itself when both the client call and the backend call are done.
  StreamRelay(grpc::GenericCallbackServerContext* ctx, Forwarder* forwarder);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // The call to the backend, through the gateway's generic stub.
  class Backend final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Backend(StreamRelay* relay) : relay_(relay) {}
    void OnWriteDone(bool ok) override { relay_->BackendWriteDone(ok); }
    void OnReadDone(bool ok) override { relay_->BackendReadDone(ok); }
    void OnWritesDoneDone(bool) override {}
    void OnDone(const grpc::Status& s) override { relay_->BackendDone(s); }

   private:
    StreamRelay* relay_;
  };

  ~StreamRelay() override;
  void Admit();  // on a gateway worker thread
  void BackendWriteDone(bool ok);
  void BackendReadDone(bool ok);
  void BackendDone(const grpc::Status& s);
  // Ends the client call with `s` now, or once the pending write is done.
  // Records the status to end the client call with (the first one wins).
  void FinishLocked(grpc::Status s);
  // Finishes the client call once no write to it is in flight and the
  // backend call, if one was started, is done.
  void MaybeFinish();
  void Unref();

  grpc::GenericCallbackServerContext* ctx_;
  Forwarder* forwarder_;
  Gateway* gateway_;
  grpc::ClientContext backend_ctx_;
  Backend backend_{this};
  const rpc::MethodEntry* method_ = nullptr;  // set under mu_ in Admit, before started_
  std::string request_id_;                    // set under mu_ in Admit, before started_
  bool slot_ = false;  // holds one of Gateway::TryOpenStream's slots
  // Admitted without a credential: the first read holds a ReadGate slot
  // until it is done. Set before the first read, read in its OnReadDone.
  bool anonymous_ = false;
  bool first_read_done_ = false;  // only OnReadDone touches it (one read at a time)

  std::mutex mu_;
  grpc::ByteBuffer from_client_;    // guarded by mu_ while a read/write uses it
  grpc::ByteBuffer from_backend_;   // likewise
  bool started_ = false;            // guarded by mu_: the backend call exists
  bool cancelled_ = false;          // guarded by mu_: the client cancelled
  bool backend_done_ = false;       // guarded by mu_
  bool backend_closed_ = false;     // guarded by mu_: no more backend reads
  bool write_hold_ = false;         // guarded by mu_: we may still write to the backend
  bool read_hold_ = false;          // guarded by mu_: we may still read from the backend
  bool backend_write_pending_ = false;  // guarded by mu_
  bool client_write_pending_ = false;   // guarded by mu_
  bool finished_ = false;           // guarded by mu_: Finish was called
  bool finish_wanted_ = false;      // guarded by mu_: Finish after the pending write
  grpc::Status pending_status_;     // guarded by mu_
  grpc::Status relay_error_;        // guarded by mu_: the gateway's own refusal mid-stream
  std::atomic<int> refs_{1};        // the client call; +1 while the backend call runs
};

}  // namespace cloister::gateway
