// The gateway pipeline and forwarding; see gateway_service.h.
#include "gateway/gateway_service.h"

#include <chrono>

#include "common/crypto/random.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace cloister::gateway {
namespace {

constexpr const char* kAuthSvc = "/cloister.internal.Auth/";
constexpr const char* kExecSvc = "/cloister.internal.Exec/";

std::string Internal(const char* svc, std::string_view m) { return svc + std::string(m); }

int64_t NowUnix() { return static_cast<int64_t>(time(nullptr)); }

std::string AuthorizationOf(const grpc::ServerContext& ctx) {
  auto it = ctx.client_metadata().find("authorization");
  if (it == ctx.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

const std::vector<std::string>& PublicMethods() {
  static const std::vector<std::string> kMethods = {
      "Login",      "RefreshToken", "Logout",         "WhoAmI",       "CreateUser",
      "ListUsers",  "DisableUser",  "DeleteUser",     "ChangePassword", "CreateApiKey",
      "Call",       "ListFunctions", "Health",
      // service KeyVault (proto/keyvault.proto; gateway/keyvault_forwarding.h)
      "CreateKey", "ListKeys", "DescribeKey", "RotateKey", "SetMinDecryptionVersion",
      "SetKeyEnabled", "ScheduleKeyDeletion", "CancelKeyDeletion", "CreateGrant", "RevokeGrant",
      "Encrypt", "Decrypt", "GenerateDataKey", "Rewrap", "BatchEncrypt", "BatchDecrypt", "Sign",
      "Verify", "BatchSign", "Hmac", "VerifyHmac", "GetWrappingKey", "ImportKey", "ExportKey"};
  return kMethods;
}

GatewayService::GatewayService(attestation::Enclave* enclave, services::AuditLog* audit,
                               GatewayOptions opts)
    : enclave_(enclave), audit_log_(audit), opts_(std::move(opts)),
      auth_(internal::Auth::NewStub(opts_.auth_channel)),
      exec_(internal::Exec::NewStub(opts_.exec_channel)),
      authenticate_(&cache_, [this](const std::string& k) { return LookupApiKey(k); }),
      authorize_(opts_.policy), rate_limit_(opts_.policy.rate_limit), audit_(audit) {
  poller_ = std::thread([this] { PollAuth(); });
}

GatewayService::~GatewayService() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

Status GatewayService::Admit(grpc::ServerContext* ctx, const google::protobuf::Message& req,
                             std::string_view method, RequestContext& rc) {
  rc.method = std::string(method);
  rc.peer = ctx->peer();
  rc.authorization = AuthorizationOf(*ctx);
  rc.body = &req;
  rc.request_id = crypto::RandomId();
  for (Filter* f : std::initializer_list<Filter*>{&authenticate_, &authorize_, &rate_limit_}) {
    Status st = f->OnRequest(rc);
    if (!st.ok()) {
      LOG_INFO("request denied", {{"method", rc.method}, {"filter", std::string(f->name())},
                                  {"reason", st.error().reason()}, {"peer", rc.peer}});
      CLOISTER_RETURN_IF_ERROR(audit_.Record(rc, &st.error()));
      return st;
    }
  }
  return audit_.OnRequest(rc);
}

template <typename Req, typename Resp, typename CallFn>
Status GatewayService::ServiceCall(const Req& req, Resp* resp, std::string_view audience,
                                   std::string_view internal_method, CallFn call, int timeout_ms) {
  internal::AccessGrant grant;
  grant.set_principal("service:gateway");
  grpc::ClientContext cctx;
  cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  CLOISTER_RETURN_IF_ERROR(services::AttachGrant(cctx, *enclave_, audience, req, internal_method, grant));
  return FromGrpcStatus(call(&cctx, req, resp));
}

void GatewayService::PollAuth() {
  // Keys first (needed for any token), then revocations every period: a
  // revocation made elsewhere reaches this gateway within one period; one
  // made through it applies at once (see Logout/DisableUser below).
  while (!stop_) {
    if (!cache_.has_keys()) {
      internal::TokenKeysRequest req;
      internal::TokenKeysResponse resp;
      Status st = ServiceCall(req, &resp, "auth", Internal(kAuthSvc, "TokenKeys"),
                              [this](grpc::ClientContext* c, const auto& r, auto* o) {
                                return auth_->TokenKeys(c, r, o);
                              }, 2000);
      if (st.ok()) {
        std::vector<crypto::PublicKey> keys;
        for (const auto& spki : resp.ed25519_spki()) {
          auto k = crypto::PublicKey::FromSpkiDer(AsBytes(spki));
          if (k.ok() && k->type() == crypto::KeyType::kEd25519) keys.push_back(*k);
        }
        if (!keys.empty()) {
          cache_.SetKeys(std::move(keys));
          LOG_INFO("token keys loaded from cloister-auth");
        }
      }
    }
    if (cache_.has_keys()) {
      internal::RevocationsRequest req;
      req.set_since_unix_ms(revocations_since_ms_);
      internal::RevocationsResponse resp;
      Status st = ServiceCall(req, &resp, "auth", Internal(kAuthSvc, "Revocations"),
                              [this](grpc::ClientContext* c, const auto& r, auto* o) {
                                return auth_->Revocations(c, r, o);
                              }, 2000);
      if (st.ok()) {
        for (const auto& r : resp.revocations()) cache_.AddRevocation(r);
        // Overlap by a second so a revocation committed during the poll is not missed.
        revocations_since_ms_ = std::max<int64_t>(0, resp.now_unix_ms() - 1000);
      }
    }
    for (int i = 0; i < opts_.revocation_poll_ms / 50 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<Principal> GatewayService::LookupApiKey(const std::string& key) {
  internal::VerifyApiKeyRequest req;
  req.set_api_key(key);
  internal::VerifyApiKeyResponse resp;
  CLOISTER_RETURN_IF_ERROR(ServiceCall(req, &resp, "auth", Internal(kAuthSvc, "VerifyApiKey"),
                                       [this](grpc::ClientContext* c, const auto& r, auto* o) {
                                         return auth_->VerifyApiKey(c, r, o);
                                       }, 5000));
  Principal p;
  p.anonymous = false;
  p.user_id = resp.user().user_id();
  p.username = resp.user().username();
  for (int r : resp.user().roles()) p.roles.push_back(static_cast<api::Role>(r));
  if (resp.user().disabled()) return Unauthenticated("user is disabled", "USER_DISABLED");
  return p;
}

#define CLOISTER_FORWARD_AUTH(Method, Req, Resp)                                               \
  grpc::Status GatewayService::Method(grpc::ServerContext* ctx, const api::Req* req,          \
                                      api::Resp* resp) {                                      \
    return Forward(ctx, *req, resp, #Method, "auth", Internal(kAuthSvc, #Method),                     \
                   [this](grpc::ClientContext* c, const api::Req& r, api::Resp* o) {          \
                     return auth_->Method(c, r, o);                                           \
                   });                                                                        \
  }

CLOISTER_FORWARD_AUTH(Login, LoginRequest, LoginResponse)
CLOISTER_FORWARD_AUTH(RefreshToken, RefreshTokenRequest, RefreshTokenResponse)
CLOISTER_FORWARD_AUTH(WhoAmI, WhoAmIRequest, WhoAmIResponse)
CLOISTER_FORWARD_AUTH(CreateUser, CreateUserRequest, CreateUserResponse)
CLOISTER_FORWARD_AUTH(ListUsers, ListUsersRequest, ListUsersResponse)
CLOISTER_FORWARD_AUTH(CreateApiKey, CreateApiKeyRequest, CreateApiKeyResponse)
#undef CLOISTER_FORWARD_AUTH

grpc::Status GatewayService::Logout(grpc::ServerContext* ctx, const api::LogoutRequest* req,
                                    api::LogoutResponse* resp) {
  std::string token_id;
  auto st = Forward(ctx, *req, resp, "Logout", "auth", Internal(kAuthSvc, "Logout"),
                    [&](grpc::ClientContext* c, const api::LogoutRequest& r,
                        api::LogoutResponse* o) {
                      // The grant carries the token id; remember it for the local cache.
                      return auth_->Logout(c, r, o);
                    });
  if (st.ok()) {
    // Apply at once here, not a poll period later.
    std::string h = AuthorizationOf(*ctx);
    if (h.rfind("Bearer ", 0) == 0) {
      auto p = cache_.VerifyToken(h.substr(7), NowUnix());
      if (p.ok()) cache_.RevokeToken(p->token_id);
    }
  }
  return st;
}

grpc::Status GatewayService::DisableUser(grpc::ServerContext* ctx,
                                         const api::DisableUserRequest* req,
                                         api::DisableUserResponse* resp) {
  auto st = Forward(ctx, *req, resp, "DisableUser", "auth", Internal(kAuthSvc, "DisableUser"),
                    [this](grpc::ClientContext* c, const api::DisableUserRequest& r,
                           api::DisableUserResponse* o) { return auth_->DisableUser(c, r, o); });
  if (st.ok() && req->disabled() && !resp->user().user_id().empty())
    cache_.RevokeUser(resp->user().user_id(), NowUnix());
  return st;
}

grpc::Status GatewayService::DeleteUser(grpc::ServerContext* ctx, const api::DeleteUserRequest* req,
                                        api::DeleteUserResponse* resp) {
  return Forward(ctx, *req, resp, "DeleteUser", "auth", Internal(kAuthSvc, "DeleteUser"),
                 [this](grpc::ClientContext* c, const api::DeleteUserRequest& r,
                        api::DeleteUserResponse* o) { return auth_->DeleteUser(c, r, o); });
}

grpc::Status GatewayService::ChangePassword(grpc::ServerContext* ctx,
                                            const api::ChangePasswordRequest* req,
                                            api::ChangePasswordResponse* resp) {
  return Forward(ctx, *req, resp, "ChangePassword", "auth", Internal(kAuthSvc, "ChangePassword"),
                 [this](grpc::ClientContext* c, const api::ChangePasswordRequest& r,
                        api::ChangePasswordResponse* o) { return auth_->ChangePassword(c, r, o); });
}

grpc::Status GatewayService::Call(grpc::ServerContext* ctx, const api::CallRequest* req,
                                  api::CallResponse* resp) {
  return Forward(ctx, *req, resp, "Call", "exec", Internal(kExecSvc, "Call"),
                 [this](grpc::ClientContext* c, const api::CallRequest& r, api::CallResponse* o) {
                   return exec_->Call(c, r, o);
                 });
}

grpc::Status GatewayService::ListFunctions(grpc::ServerContext* ctx,
                                           const api::ListFunctionsRequest* req,
                                           api::ListFunctionsResponse* resp) {
  return Forward(ctx, *req, resp, "ListFunctions", "exec", Internal(kExecSvc, "ListFunctions"),
                 [this](grpc::ClientContext* c, const api::ListFunctionsRequest& r,
                        api::ListFunctionsResponse* o) { return exec_->ListFunctions(c, r, o); });
}

grpc::Status GatewayService::Health(grpc::ServerContext* ctx, const api::HealthRequest* req,
                                    api::HealthResponse* resp) {
  RequestContext rc;
  if (Status st = Admit(ctx, *req, "Health", rc); !st.ok()) return ToGrpcStatus(st);
  // SERVING only when every backend answers its own (granted) health check
  // and the token keys are loaded: `cluster up` waits on exactly this.
  api::HealthResponse a, e;
  Status sa = ServiceCall(*req, &a, "auth", Internal(kAuthSvc, "Health"),
                          [this](grpc::ClientContext* c, const auto& r, auto* o) {
                            return auth_->Health(c, r, o);
                          }, 2000);
  Status se = ServiceCall(*req, &e, "exec", Internal(kExecSvc, "Health"),
                          [this](grpc::ClientContext* c, const auto& r, auto* o) {
                            return exec_->Health(c, r, o);
                          }, 2000);
  bool ok = sa.ok() && se.ok() && cache_.has_keys();
  resp->set_status(ok ? "SERVING" : "NOT_SERVING");
  resp->set_service(ok ? "gateway" : "gateway (auth: " + (sa.ok() ? std::string("ok") : sa.ToString()) +
                                         "; exec: " + (se.ok() ? std::string("ok") : se.ToString()) + ")");
  resp->set_version(CLOISTER_VERSION);
  resp->set_security_level(enclave_->security_level());
  return grpc::Status::OK;
}

}  // namespace cloister::gateway
