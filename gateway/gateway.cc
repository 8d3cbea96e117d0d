// The gateway's request path and its own calls to auth; see gateway.h.
#include "gateway/gateway.h"

#include <chrono>
#include <future>

#include <grpcpp/support/proto_buffer_reader.h>

#include "common/crypto/random.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "services/common/deterministic.h"
#include "storage/engine.h"

namespace cloister::gateway {
namespace {

constexpr int kForwardTimeoutMs = 60'000;

int64_t NowUnix() { return static_cast<int64_t>(time(nullptr)); }

std::string AuthorizationOf(const grpc::ServerContextBase& ctx) {
  auto it = ctx.client_metadata().find("authorization");
  if (it == ctx.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

std::string ToBytes(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!b.Dump(&slices).ok()) return out;
  out.reserve(b.Length());
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer FromBytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// One unary call through a generic stub, waited for.
grpc::Status BlockingUnary(grpc::GenericStub& stub, grpc::ClientContext* ctx,
                           const std::string& method, const grpc::ByteBuffer& req,
                           grpc::ByteBuffer* resp) {
  std::promise<grpc::Status> done;
  auto result = done.get_future();
  stub.UnaryCall(ctx, method, grpc::StubOptions(), &req, resp,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return result.get();
}

Reply Fail(const Status& st) { return {ToGrpcStatus(st), {}}; }

// Audits the due summaries of refusals counted instead of audited one by
// one (all pending ones when `all`): one deny entry per (source, method,
// reason) and window, its request id "summary:count=<n>,window_ms=<ms>"
// and its peer the source, so the trail still says who was refused, how
// often and when (the entry's ts_ms ends the window).
Status AuditRefusalSummaries(RateLimitFilter& limiter, AuditFilter& audit, bool all) {
  for (const RefusalSummary& s : limiter.TakeSummaries(all)) {
    RequestContext rc;
    rc.method = s.method;
    rc.peer = s.source;
    rc.request_id = "summary:count=" + std::to_string(s.count) +
                    ",window_ms=" + std::to_string(s.window_ms);
    const Error why = ResourceExhausted("refused before authentication", s.reason);
    LOG_WARN("requests refused before authentication",
             {{"source", s.source}, {"method", s.method}, {"reason", s.reason},
              {"count", static_cast<int64_t>(s.count)}, {"window_ms", s.window_ms}});
    CLOISTER_RETURN_IF_ERROR(audit.Record(rc, &why));
  }
  return OkStatus();
}

}  // namespace

// What a public client may see of a backend's failure (issue 11): the
// services' own refusals (bad input, not found, permission, quota…) carry
// messages written for users and pass through; transport and internal
// failures carry gRPC's text — internal addresses, ports, TLS details — and
// are replaced by a generic message with the request id (the full text is
// logged for the operator).
namespace {
// A stable reason as the services write them: UPPER_SNAKE, ≤ 64 characters.
bool IsReasonToken(const std::string& r) {
  if (r.empty() || r.size() > 64) return false;
  for (char ch : r)
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}
bool IsEngineReason(const std::string& r) {
  namespace er = storage::reason;
  for (const char* x : {er::kConstraint, er::kBusy, er::kCorrupt, er::kFull, er::kError,
                        er::kBadUrl, er::kMigration})
    if (r == x) return true;
  return false;
}
}  // namespace

grpc::Status PublicStatus(const grpc::Status& s, const std::string& backend,
                          const std::string& request_id) {
  // The storage engine's errors (storage/engine.h) quote SQLite and name
  // database files, whatever their code: a service that lets one through
  // keeps its code and reason, not its text.
  if (IsEngineReason(s.error_details())) {
    LOG_WARN("backend storage engine error", {{"backend", backend}, {"request_id", request_id},
                                             {"reason", s.error_details()},
                                             {"detail", s.error_message()}});
    return grpc::Status(s.error_code(),
                        "the " + backend + " service could not complete the request (" +
                            s.error_details() + ", request " + request_id + ")",
                        s.error_details());
  }
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
      // Every public error carries a stable reason (issue 11): a refusal a
      // service wrote without one gets its code's (REQUEST_INVALID for bad
      // input), its words unchanged.
      if (s.ok() || IsReasonToken(s.error_details())) return s;
      return grpc::Status(s.error_code(), s.error_message(),
                          s.error_code() == grpc::StatusCode::INVALID_ARGUMENT
                              ? std::string("REQUEST_INVALID")
                              : std::string(CodeName(static_cast<Code>(s.error_code()))));
    default:
      break;
  }
  // Data loss (stored state found altered or missing, e.g. ciphertext of
  // the wrong size) keeps its code and reason, which name what the user can
  // act on; its message may hold internal detail and is replaced.
  if (s.error_code() == grpc::StatusCode::DATA_LOSS && IsReasonToken(s.error_details())) {
    LOG_WARN("backend reported data loss", {{"backend", backend}, {"request_id", request_id},
                                           {"detail", s.error_message()}});
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "stored data in the " + backend + " service failed its integrity check (" +
                            s.error_details() + ", request " + request_id + ")",
                        s.error_details());
  }
  LOG_WARN("backend call failed", {{"backend", backend}, {"request_id", request_id},
                                   {"code", static_cast<int64_t>(s.error_code())},
                                   {"detail", s.error_message()}});
  const bool unavailable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  return grpc::Status(s.error_code(),
                      (unavailable ? "the " + backend + " service is unavailable; retry later"
                                   : "internal error in the " + backend + " service") +
                          " (request " + request_id + ")",
                      unavailable ? "BACKEND_UNAVAILABLE" : "BACKEND_INTERNAL");
}

const std::vector<std::string>& PublicMethods() {
  static const std::vector<std::string> kMethods = rpc::MethodTable::Get().PublicNames();
  return kMethods;
}

Result<std::unique_ptr<Gateway>> Gateway::Create(attestation::Enclave* enclave,
                                                 services::AuditLog* audit, GatewayOptions opts) {
  for (const auto& m : rpc::MethodTable::Get().all()) {
    if (m.backend == rpc::kGatewayBackend) continue;
    if (!opts.backends.count(m.backend))
      return InvalidArgument("no address for backend '" + m.backend + "' (serves " +
                                 m.full_method + "): pass --" + m.backend + "-addr",
                             "BACKEND_MISSING");
  }
  return std::make_unique<Gateway>(Key(), enclave, audit, std::move(opts));
}

Gateway::Gateway(Key, attestation::Enclave* enclave, services::AuditLog* audit,
                 GatewayOptions opts)
    : enclave_(enclave), audit_log_(audit), opts_(std::move(opts)),
      table_(rpc::MethodTable::Get()),
      authenticate_(&cache_, [this](const std::string& k) { return LookupApiKey(k); }),
      authorize_(opts_.policy), rate_limit_(opts_.policy.rate_limit), audit_(audit) {
  for (const auto& [name, channel] : opts_.backends)
    stubs_[name] = std::make_unique<grpc::GenericStub>(channel);
  auth_ = api::Auth::NewStub(opts_.backends.at("auth"));
  // Auth's token keys (re-fetched every key_refresh_ms and replaced) and
  // revocations; revocations made through this gateway apply at once
  // (AfterSuccess).
  follower_ = std::make_unique<services::AuthFollower>(
      &cache_.identity(), services::RemoteAuthSource(enclave_, opts_.backends.at("auth")),
      services::AuthFollowerOptions{.key_refresh_ms = opts_.key_refresh_ms,
                                    .revocation_poll_ms = opts_.revocation_poll_ms});
  follower_->Start();
}

// Refusals still only counted are audited before the log closes.
Gateway::~Gateway() { (void)AuditRefusalSummaries(rate_limit_, audit_, /*all=*/true); }

Reply Gateway::Handle(const grpc::ServerContextBase& ctx, const std::string& full_method,
                      const grpc::ByteBuffer& request) {
  const rpc::MethodEntry* m = table_.Find(full_method);
  if (m == nullptr || !m->is_public())
    return Fail(Unimplemented("no public method " + full_method, "METHOD_UNKNOWN"));
  if (m->client_streaming || m->server_streaming)  // the forwarder relays these (StreamRelay)
    return Fail(Internal("streaming method " + full_method + " reached the unary path"));
  auto req = ParseRequest(ctx, *m, request);
  if (!req.ok()) return Fail(req.error());
  if (m->backend == rpc::kGatewayBackend) return Health(ctx, **req);
  RequestContext rc;
  if (Status st = Admit(ctx, **req, m->name, rc); !st.ok()) return Fail(st);
  Reply r = Forward(ctx, *m, **req, rc);
  if (r.status.ok()) AfterSuccess(ctx, *m, **req, r.body);
  // A credential in the body that the backend refused (a wrong password,
  // refresh token or old password; auth's LOGIN_THROTTLED for a throttled
  // pair) spends the source's failure budget like a bad token (issue 11):
  // past it the source is refused before it reaches auth again.
  else if (r.status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
           (m->name == "Login" && r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED))
    (void)rate_limit_.ChargeFailedCredential(rc);
  return r;
}

// "8 KiB", "64 MiB", "1000 bytes": a request cap as a client reads it.
static std::string SizeText(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Result<ReadAdmission> Gateway::AdmitRead(const grpc::ServerContextBase& ctx,
                                         const std::string& full_method) {
  const rpc::MethodEntry* m = table_.Find(full_method);
  if (m == nullptr || !m->is_public())
    return Unimplemented("no public method " + full_method, "METHOD_UNKNOWN");
  RequestContext probe;
  probe.method = m->name;
  probe.peer = ctx.peer();
  probe.authorization = AuthorizationOf(ctx);
  const bool anonymous = probe.authorization.empty();
  bool refused = false;
  if (anonymous) {
    auto it = opts_.policy.allowed.find(m->name);
    refused = it == opts_.policy.allowed.end() || it->second.count("anonymous") == 0;
  } else {
    // Peeks at the source's failure budget (spends nothing), then checks
    // the credential: a token locally, an API key from the cache or auth.
    refused = !rate_limit_.AdmitSource(probe).ok() || !authenticate_.OnRequest(probe).ok();
  }
  // The refusal is the pipeline's own, over an empty body (nothing after
  // the failing step reads it): audited, counted or charged exactly as it
  // would be after a read. Should it pass this time (an API key lookup
  // that failed transiently), the call is read and admitted again in full.
  if (refused) {
    RequestContext rc;
    if (Status st = Admit(ctx, m->request(), m->name, rc); !st.ok()) return st.error();
  }
  return ReadAdmission{m, anonymous};
}

Result<std::unique_ptr<google::protobuf::Message>> Gateway::ParseRequest(
    const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
    const grpc::ByteBuffer& request) {
  // Each method's cap (the method table's max_request_bytes) holds for
  // every caller, before any parsing (issue 11).
  if (request.Length() > m.max_request_bytes)
    return ResourceExhausted("a " + m.name + " request is limited to " +
                                 SizeText(m.max_request_bytes) + "; this one has " +
                                 std::to_string(request.Length()) + " bytes",
                             "REQUEST_TOO_LARGE");
  // A larger body is parsed only for a caller whose credential verified:
  // an anonymous or badly signed request costs the gateway at most
  // kMaxAnonymousRequestBytes of parsing.
  if (request.Length() > kMaxAnonymousRequestBytes) {
    RequestContext probe;
    probe.peer = ctx.peer();
    probe.authorization = AuthorizationOf(ctx);
    if (probe.authorization.empty())
      return ResourceExhausted("requests without a credential are limited to " +
                                   SizeText(kMaxAnonymousRequestBytes) + "; sign in first",
                               "REQUEST_TOO_LARGE");
    if (Status st = authenticate_.OnRequest(probe); !st.ok()) {
      if (st.error().code() == Code::kUnauthenticated)
        (void)rate_limit_.ChargeFailedCredential(probe);
      return st.error();
    }
  }
  std::unique_ptr<google::protobuf::Message> req(m.request().New());
  if (!req->ParseFromString(ToBytes(request)))
    return InvalidArgument(
        "request to " + m.full_method + " is not a valid protobuf message of its type",
        "REQUEST_MALFORMED");
  return req;
}

Result<StreamStart> Gateway::AdmitStream(const grpc::ServerContextBase& ctx,
                                         const std::string& full_method,
                                         const grpc::ByteBuffer& first,
                                         grpc::ClientContext& backend_ctx) {
  const rpc::MethodEntry* m = table_.Find(full_method);
  if (m == nullptr || !m->is_public() || !(m->client_streaming || m->server_streaming))
    return Unimplemented("no public streaming method " + full_method, "METHOD_UNKNOWN");
  CLOISTER_ASSIGN_OR_RETURN(auto req, ParseRequest(ctx, *m, first));
  RequestContext rc;
  CLOISTER_RETURN_IF_ERROR(Admit(ctx, *req, m->name, rc));
  // The grant covers the first message (its deterministic encoding, which
  // is what the backend receives); the messages after it ride the same
  // attested call, which only this gateway could have opened.
  CLOISTER_RETURN_IF_ERROR(AttachUserGrant(*m, *req, rc, backend_ctx));
  return StreamStart{m, services::DeterministicSerialize(*req), rc.request_id};
}

Status Gateway::CheckStreamMessage(const rpc::MethodEntry& m, const grpc::ByteBuffer& msg) const {
  if (msg.Length() > m.max_request_bytes)
    return InvalidArgument("a message of " + m.name + " is " + std::to_string(msg.Length()) +
                               " bytes; the limit is " + SizeText(m.max_request_bytes),
                           "MESSAGE_TOO_LARGE");
  // Parsed to refuse garbage here, with a clear error, instead of in the
  // backend; forwarded as received (the backend checks every field again).
  std::unique_ptr<google::protobuf::Message> parsed(m.request().New());
  grpc::ByteBuffer copy(msg);  // shares the slices; the reader consumes its own view
  grpc::ProtoBufferReader reader(&copy);
  if (!parsed->ParseFromZeroCopyStream(&reader))
    return InvalidArgument("a message of " + m.name + " is not a valid " +
                               m.request().GetDescriptor()->name(),
                           "REQUEST_MALFORMED");
  return OkStatus();
}

grpc::GenericStub& Gateway::StubFor(const std::string& backend) { return *stubs_.at(backend); }

bool Gateway::TryOpenStream() {
  int open = open_streams_.load();
  do {
    if (open >= kMaxOpenStreams) return false;
  } while (!open_streams_.compare_exchange_weak(open, open + 1));
  return true;
}

void Gateway::CloseStream() { open_streams_.fetch_sub(1); }

Status Gateway::Admit(const grpc::ServerContextBase& ctx, const google::protobuf::Message& req,
                      std::string_view method, RequestContext& rc) {
  rc.method = std::string(method);
  rc.peer = ctx.peer();
  rc.authorization = AuthorizationOf(ctx);
  rc.body = &req;
  rc.request_id = crypto::RandomId();
  CLOISTER_RETURN_IF_ERROR(AuditRefusalSummaries(rate_limit_, audit_, /*all=*/false));
  // Before authentication (issue 11): a source that spent its failure
  // budget, or an anonymous source over its rate, is refused here, before
  // any credential is checked or anything reaches auth, and only counted
  // (audited as one summary per source, method and reason a second).
  if (Status st = rate_limit_.AdmitSource(rc); !st.ok()) {
    rate_limit_.CountRefusal(rc, st.error().reason());
    return st;
  }
  for (Filter* f : std::initializer_list<Filter*>{&authenticate_, &authorize_, &rate_limit_}) {
    Status st = f->OnRequest(rc);
    if (!st.ok() && f == &authenticate_ && st.error().code() == Code::kUnauthenticated) {
      // A bad credential spends its source's failure budget. One that
      // arrived while the budget ran out (requests in flight together) is
      // counted into the summary instead of audited on its own.
      if (!rate_limit_.ChargeFailedCredential(rc).ok()) {
        rate_limit_.CountRefusal(rc, st.error().reason());
        return st;
      }
    }
    if (!st.ok()) {
      LOG_INFO("request denied", {{"method", rc.method}, {"filter", std::string(f->name())},
                                  {"reason", st.error().reason()}, {"peer", rc.peer}});
      CLOISTER_RETURN_IF_ERROR(audit_.Record(rc, &st.error()));
      return st;
    }
  }
  return audit_.OnRequest(rc);
}

Status Gateway::AttachUserGrant(const rpc::MethodEntry& m, const google::protobuf::Message& req,
                                const RequestContext& rc, grpc::ClientContext& cctx) {
  internal::AccessGrant grant;
  grant.set_request_id(rc.request_id);
  grant.set_principal(rc.principal.anonymous() ? "anonymous" : rc.principal.user_id());
  grant.set_username(rc.principal.username());
  for (auto r : rc.principal.roles()) grant.add_roles(r);
  grant.set_token_id(rc.principal.token_id());
  // The backend verifies who the user is itself, from auth's proof.
  grant.set_auth_proof(rc.auth_proof);
  // Who is on the other end of the TCP connection, for per-source
  // decisions (auth's login throttle); signed with the rest.
  grant.set_client_source(ClientSource(rc.peer));
  for (const auto& r : rc.resources) grant.add_resource_ids(r);
  return services::AttachGrant(cctx, *enclave_, m.backend, req, m.full_method, std::move(grant));
}

Reply Gateway::Forward(const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
                       const google::protobuf::Message& req, const RequestContext& rc) {
  grpc::ClientContext cctx;
  cctx.set_deadline(std::min(ctx.deadline(), std::chrono::system_clock::now() +
                                                 std::chrono::milliseconds(kForwardTimeoutMs)));
  if (Status st = AttachUserGrant(m, req, rc, cctx); !st.ok()) return Fail(st);
  // The backend gets the bytes the grant's digest covers, not the client's:
  // one encoding, so no parser differential between gateway and backend.
  Reply r;
  r.status = PublicStatus(BlockingUnary(*stubs_.at(m.backend), &cctx, m.full_method,
                                        FromBytes(services::DeterministicSerialize(req)), &r.body),
                         m.backend, rc.request_id);
  return r;
}

void Gateway::AfterSuccess(const grpc::ServerContextBase& ctx, const rpc::MethodEntry& m,
                           const google::protobuf::Message& req, const grpc::ByteBuffer& resp) {
  // Revocations made through this gateway apply here at once, not a poll
  // period later.
  if (m.name == "Logout") {
    std::string h = AuthorizationOf(ctx);
    if (h.rfind("Bearer ", 0) == 0) {
      auto p = cache_.VerifyToken(h.substr(7), NowUnix());
      if (p.ok()) cache_.RevokeToken(p->token_id());
    }
  } else if (m.name == "DisableUser") {
    const auto* dr = dynamic_cast<const api::DisableUserRequest*>(&req);
    api::DisableUserResponse out;
    if (dr != nullptr && dr->disabled() && out.ParseFromString(ToBytes(resp)) &&
        !out.user().user_id().empty())
      cache_.RevokeUser(out.user().user_id(), NowUnix());
  }
}

template <typename Req, typename Resp, typename CallFn>
Status Gateway::ServiceCall(const Req& req, Resp* resp, std::string_view method, CallFn call,
                            int timeout_ms) {
  internal::AccessGrant grant;
  grant.set_principal("service:gateway");
  grpc::ClientContext cctx;
  cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  // Every call the gateway makes for itself goes to auth.
  CLOISTER_RETURN_IF_ERROR(services::AttachGrant(cctx, *enclave_, "auth", req, method, grant));
  // Its failure may reach the public caller (an API key checked while auth
  // is down): mapped as a forwarded call's is (issue 11).
  return FromGrpcStatus(PublicStatus(call(&cctx, req, resp), "auth", crypto::RandomId()));
}

Status Gateway::BackendHealth(const std::string& backend, int timeout_ms) {
  for (const rpc::MethodEntry* m : table_.ServedBy(backend)) {
    if (m->name != "Health") continue;
    std::unique_ptr<google::protobuf::Message> req(m->request().New());
    internal::AccessGrant grant;
    grant.set_principal("service:gateway");
    grpc::ClientContext cctx;
    cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    CLOISTER_RETURN_IF_ERROR(
        services::AttachGrant(cctx, *enclave_, backend, *req, m->full_method, grant));
    grpc::ByteBuffer resp;
    return FromGrpcStatus(BlockingUnary(*stubs_.at(backend), &cctx, m->full_method,
                                        FromBytes(services::DeterministicSerialize(*req)), &resp));
  }
  return Internal("backend '" + backend + "' has no Health method in the method table");
}

Reply Gateway::Health(const grpc::ServerContextBase& ctx, const google::protobuf::Message& req) {
  RequestContext rc;
  if (Status st = Admit(ctx, req, "Health", rc); !st.ok()) return Fail(st);
  // SERVING only when every backend answers its own (granted) health check
  // and the token keys are loaded: `cluster up` waits on exactly this.
  bool ok = cache_.has_keys();
  std::string detail;
  for (const auto& [name, stub] : stubs_) {
    Status st = BackendHealth(name, 2000);
    ok = ok && st.ok();
    // Public (anonymous) text: the code only. gRPC's text names the
    // backend's address (issue 11), so it goes to the log.
    if (!st.ok())
      LOG_WARN("backend health check failed", {{"backend", name}, {"detail", st.ToString()}});
    detail += (detail.empty() ? "" : "; ") + name + ": " +
              (st.ok() ? "ok" : std::string(CodeName(st.code())));
  }
  if (!cache_.has_keys()) detail += "; token keys not loaded yet";
  api::HealthResponse resp;
  resp.set_status(ok ? "SERVING" : "NOT_SERVING");
  resp.set_service(ok ? "gateway" : "gateway (" + detail + ")");
  resp.set_version(CLOISTER_VERSION);
  resp.set_security_level(enclave_->security_level());
  return {grpc::Status::OK, FromBytes(resp.SerializeAsString())};
}

Result<ApiKeyProof> Gateway::LookupApiKey(const std::string& key) {
  internal::VerifyApiKeyRequest req;
  req.set_api_key(key);
  internal::VerifyApiKeyResponse resp;
  CLOISTER_RETURN_IF_ERROR(ServiceCall(
      req, &resp, std::string("/") + api::Auth::service_full_name() + "/VerifyApiKey",
      [this](grpc::ClientContext* c, const auto& r, auto* o) {
        return auth_->VerifyApiKey(c, r, o);
      }, 5000));
  if (resp.user().disabled()) return Unauthenticated("user is disabled", "USER_DISABLED");
  if (resp.proof().empty())
    return Unavailable("cloister-auth returned no proof for the API key", "AUTH_UNAVAILABLE");
  // Who the key's user is comes from verifying the proof, as for a token.
  return ApiKeyProof{resp.proof(), resp.user().user_id(), resp.proof_expires_unix()};
}

}  // namespace cloister::gateway
