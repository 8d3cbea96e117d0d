// cloister-gateway's public service: every RPC of proto/cloister.proto runs
// the filter pipeline (authenticate → authorize → rate limit → audit), then
// is forwarded to the owning internal service with a signed access grant
// for exactly that method and body. There is no other path to a backend.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "common/grpc_status.h"
#include "gateway/credential_cache.h"
#include "gateway/filters/audit/audit_filter.h"
#include "gateway/filters/authenticate/authenticate_filter.h"
#include "gateway/filters/authorize/authorize_filter.h"
#include "gateway/filters/rate_limit/rate_limit_filter.h"
#include "proto/cloister.grpc.pb.h"
#include "proto/internal.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::gateway {

// The public methods; the policy may only name these.
const std::vector<std::string>& PublicMethods();

struct GatewayOptions {
  Policy policy;
  std::shared_ptr<grpc::Channel> auth_channel;
  std::shared_ptr<grpc::Channel> exec_channel;
  int64_t revocation_poll_ms = 1000;
};

class GatewayService final : public api::Cloister::Service {
 public:
  GatewayService(attestation::Enclave* enclave, services::AuditLog* audit, GatewayOptions opts);
  ~GatewayService() override;

  grpc::Status Login(grpc::ServerContext*, const api::LoginRequest*, api::LoginResponse*) override;
  grpc::Status RefreshToken(grpc::ServerContext*, const api::RefreshTokenRequest*,
                            api::RefreshTokenResponse*) override;
  grpc::Status Logout(grpc::ServerContext*, const api::LogoutRequest*, api::LogoutResponse*) override;
  grpc::Status WhoAmI(grpc::ServerContext*, const api::WhoAmIRequest*, api::WhoAmIResponse*) override;
  grpc::Status CreateUser(grpc::ServerContext*, const api::CreateUserRequest*,
                          api::CreateUserResponse*) override;
  grpc::Status ListUsers(grpc::ServerContext*, const api::ListUsersRequest*,
                         api::ListUsersResponse*) override;
  grpc::Status DisableUser(grpc::ServerContext*, const api::DisableUserRequest*,
                           api::DisableUserResponse*) override;
  grpc::Status DeleteUser(grpc::ServerContext*, const api::DeleteUserRequest*,
                          api::DeleteUserResponse*) override;
  grpc::Status ChangePassword(grpc::ServerContext*, const api::ChangePasswordRequest*,
                              api::ChangePasswordResponse*) override;
  grpc::Status CreateApiKey(grpc::ServerContext*, const api::CreateApiKeyRequest*,
                            api::CreateApiKeyResponse*) override;
  grpc::Status Call(grpc::ServerContext*, const api::CallRequest*, api::CallResponse*) override;
  grpc::Status ListFunctions(grpc::ServerContext*, const api::ListFunctionsRequest*,
                             api::ListFunctionsResponse*) override;
  grpc::Status Health(grpc::ServerContext*, const api::HealthRequest*, api::HealthResponse*) override;

  CredentialCache& credentials() { return cache_; }

  // The one forwarding path: runs the pipeline for public `method`, then
  // calls `call(&client_ctx, req, resp)` with a grant for `internal_method`
  // of the service with manifest role `audience` and exactly this body
  // attached. Public (and defined below, as a
  // template) so other public services served by this gateway
  // (gateway/keyvault_forwarding.h) go through the same pipeline.
  template <typename Req, typename Resp, typename CallFn>
  grpc::Status Forward(grpc::ServerContext* ctx, const Req& req, Resp* resp,
                       std::string_view method, std::string_view audience,
                       std::string_view internal_method, CallFn call);

 private:
  // Runs the pipeline; on success fills `ctx_out` and a grant template.
  Status Admit(grpc::ServerContext* ctx, const google::protobuf::Message& req,
               std::string_view method, RequestContext& rc);
  // A call the gateway itself makes (token keys, revocations, health).
  template <typename Req, typename Resp, typename CallFn>
  Status ServiceCall(const Req& req, Resp* resp, std::string_view audience,
                     std::string_view internal_method, CallFn call, int timeout_ms);
  void PollAuth();
  Result<Principal> LookupApiKey(const std::string& key);

  attestation::Enclave* enclave_;
  services::AuditLog* audit_log_;
  GatewayOptions opts_;
  CredentialCache cache_;
  std::unique_ptr<internal::Auth::Stub> auth_;
  std::unique_ptr<internal::Exec::Stub> exec_;
  AuthenticateFilter authenticate_;
  AuthorizeFilter authorize_;
  RateLimitFilter rate_limit_;
  AuditFilter audit_;

  std::atomic<bool> stop_{false};
  int64_t revocations_since_ms_ = 0;
  std::thread poller_;
};

template <typename Req, typename Resp, typename CallFn>
grpc::Status GatewayService::Forward(grpc::ServerContext* ctx, const Req& req, Resp* resp,
                                     std::string_view method, std::string_view audience,
                                     std::string_view internal_method, CallFn call) {
  constexpr int kForwardTimeoutMs = 60'000;
  RequestContext rc;
  if (Status st = Admit(ctx, req, method, rc); !st.ok()) return ToGrpcStatus(st);
  internal::AccessGrant grant;
  grant.set_request_id(rc.request_id);
  grant.set_principal(rc.principal.anonymous ? "anonymous" : rc.principal.user_id);
  grant.set_username(rc.principal.username);
  for (auto r : rc.principal.roles) grant.add_roles(r);
  grant.set_token_id(rc.principal.token_id);
  for (const auto& r : rc.resources) grant.add_resource_ids(r);
  grpc::ClientContext cctx;
  auto deadline = std::min(ctx->deadline(), std::chrono::system_clock::now() +
                                                std::chrono::milliseconds(kForwardTimeoutMs));
  cctx.set_deadline(deadline);
  if (Status st = services::AttachGrant(cctx, *enclave_, audience, req, internal_method,
                                         std::move(grant));
      !st.ok())
    return ToGrpcStatus(st);
  return call(&cctx, req, resp);
}

}  // namespace cloister::gateway
