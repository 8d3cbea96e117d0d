// Gateway: cloister-gateway's request path. Every public RPC of the method
// table (proto/method_table.h) arrives here as bytes (gateway/forwarder.h),
// is parsed as its request type, runs the filter pipeline (authenticate →
// authorize → rate limit → audit) and is forwarded, as its deterministic
// re-serialization, to the same method on the backend the table names,
// with a signed grant for exactly that method and body. There is no other
// path to a backend, and no per-method code: adding an RPC to a service
// proto makes it forwarded, policed and audited under its short name.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/credential_cache.h"
#include "gateway/filters/audit/audit_filter.h"
#include "gateway/filters/authenticate/authenticate_filter.h"
#include "gateway/filters/authorize/authorize_filter.h"
#include "gateway/filters/rate_limit/rate_limit_filter.h"
#include "proto/auth.grpc.pb.h"
#include "proto/method_table.h"
#include "services/common/auth_follower.h"
#include "services/common/grant_verifier.h"

namespace cloister::gateway {

// Request size (issue 11; docs/operations.md, "Resource bounds"): every
// request message is refused above its method's cap (the method table's
// max_request_bytes: 1 MiB by default, 4 KiB for Login, 64 MiB for Call),
// and above this one unless its caller's credential verified: an anonymous
// caller (Login needs a few hundred bytes) gets at most 8 KiB parsed.
inline constexpr size_t kMaxAnonymousRequestBytes = 8u << 10;
// Streams open at once through one gateway (each holds a backend call).
inline constexpr int kMaxOpenStreams = 64;

// The public methods (short names); the policy may only name these.
const std::vector<std::string>& PublicMethods();

struct GatewayOptions {
  Policy policy;
  // Backend name (a ServiceSpec name, e.g. "auth") → attested channel.
  std::map<std::string, std::shared_ptr<grpc::Channel>> backends;
  int64_t revocation_poll_ms = 1000;
  // How often auth's token keys are fetched again (rotation, retirement).
  int64_t key_refresh_ms = 10'000;
};

// The outcome of one public call: a status, and the serialized response
// when it is OK.
struct Reply {
  grpc::Status status;
  grpc::ByteBuffer body;
};

// A call that may be read (Gateway::AdmitRead): its method, and whether it
// carries no credential (then at most kMaxAnonymousRequestBytes).
struct ReadAdmission {
  const rpc::MethodEntry* method;
  bool anonymous;
};

// An admitted streaming call, ready to be relayed (gateway/stream_relay.h).
struct StreamStart {
  const rpc::MethodEntry* method;
  std::string first;       // the first message as the backend must receive it
  std::string request_id;
};

// What a public client may see of a backend's status: the services' own
// refusals pass; transport and internal failures become a generic message
// naming the backend and request id (the detail is logged).
grpc::Status PublicStatus(const grpc::Status& s, const std::string& backend,
                          const std::string& request_id);

class Gateway {
 public:
  // `opts.backends` must hold a channel for every backend the method table
  // routes to (checked: Create fails naming the missing one).
  static Result<std::unique_ptr<Gateway>> Create(attestation::Enclave* enclave,
                                                  services::AuditLog* audit,
                                                  GatewayOptions opts);
  // Only Create can make the key (so only Create constructs a Gateway).
  class Key {
    friend class Gateway;
    Key() = default;
  };
  Gateway(Key, attestation::Enclave* enclave, services::AuditLog* audit, GatewayOptions opts);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Before any request message of a call is read (issue 11): the method is
  // public, and the credential, if the call carries one, verified; a call
  // without one is to a method the policy opens to "anonymous". Otherwise
  // the refusal the whole pipeline gives (audited, counted or charged to
  // the source as in Handle), so the body is never buffered. Blocks (an
  // API key may need auth); thread-safe.
  Result<ReadAdmission> AdmitRead(const grpc::ServerContextBase& ctx,
                                  const std::string& full_method);

  // Handles one unary call to `full_method` with the request bytes. Blocks
  // (filters, audit sync, the backend call); thread-safe.
  Reply Handle(const grpc::ServerContextBase& ctx, const std::string& full_method,
               const grpc::ByteBuffer& request);

  CredentialCache& credentials() { return cache_; }

  // Streaming calls (an upload: many request messages; a download: many
  // responses). AdmitStream runs the whole pipeline on the first message,
  // exactly as Handle does for a unary one, and attaches the grant for it
  // to `backend_ctx`. Blocks; thread-safe.
  Result<StreamStart> AdmitStream(const grpc::ServerContextBase& ctx,
                                  const std::string& full_method, const grpc::ByteBuffer& first,
                                  grpc::ClientContext& backend_ctx);
  // Each later request message: the method's cap and a parse as its type.
  Status CheckStreamMessage(const rpc::MethodEntry& m, const grpc::ByteBuffer& msg) const;
  grpc::GenericStub& StubFor(const std::string& backend);
  // A slot among kMaxOpenStreams; false when all are taken.
  bool TryOpenStream();
  void CloseStream();

 private:
  // The method's size cap, the one for callers without a verified
  // credential, then a parse as m's request.
  Result<std::unique_ptr<google::protobuf::Message>> ParseRequest(
      const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
      const grpc::ByteBuffer& request);
  // Signs the grant for an admitted request and attaches it to `cctx`.
  Status AttachUserGrant(const rpc::MethodEntry& m, const google::protobuf::Message& req,
                         const RequestContext& rc, grpc::ClientContext& cctx);
  // Runs the pipeline for public method `method`; fills `rc`.
  Status Admit(const grpc::ServerContextBase& ctx, const google::protobuf::Message& req,
               std::string_view method, RequestContext& rc);
  // Forwards an admitted request to its backend.
  Reply Forward(const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
                const google::protobuf::Message& req, const RequestContext& rc);
  // What the gateway does itself after a successful call (local revocation).
  void AfterSuccess(const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
                    const google::protobuf::Message& req, const grpc::ByteBuffer& resp);
  // Gateway.Health: SERVING only when every backend answers its own Health.
  Reply Health(const grpc::ServerContextBase& ctx, const google::protobuf::Message& req);

  // A call the gateway makes for itself (token keys, revocations, health).
  template <typename Req, typename Resp, typename CallFn>
  Status ServiceCall(const Req& req, Resp* resp, std::string_view method, CallFn call,
                     int timeout_ms);
  Status BackendHealth(const std::string& backend, int timeout_ms);
  Result<ApiKeyProof> LookupApiKey(const std::string& key);

  attestation::Enclave* enclave_;
  services::AuditLog* audit_log_;
  GatewayOptions opts_;
  const rpc::MethodTable& table_;
  CredentialCache cache_;
  std::map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_;  // per backend
  std::unique_ptr<api::Auth::Stub> auth_;  // the gateway's own calls to auth
  AuthenticateFilter authenticate_;
  AuthorizeFilter authorize_;
  RateLimitFilter rate_limit_;
  AuditFilter audit_;
  std::atomic<int> open_streams_{0};
  std::unique_ptr<services::AuthFollower> follower_;  // last: stops first
};

}  // namespace cloister::gateway
