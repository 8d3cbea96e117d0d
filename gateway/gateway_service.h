// cloister-gateway's public service: every RPC of proto/cloister.proto runs
// the filter pipeline (authenticate → authorize → rate limit → audit), then
// is forwarded to the owning internal service with a signed access grant
// for exactly that method and body. There is no other path to a backend.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

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

 private:
  // Runs the pipeline; on success fills `ctx_out` and a grant template.
  Status Admit(grpc::ServerContext* ctx, const google::protobuf::Message& req,
               std::string_view method, RequestContext& rc);
  template <typename Req, typename Resp, typename CallFn>
  grpc::Status Forward(grpc::ServerContext* ctx, const Req& req, Resp* resp,
                       std::string_view method, std::string_view internal_method, CallFn call);
  // A call the gateway itself makes (token keys, revocations, health).
  template <typename Req, typename Resp, typename CallFn>
  Status ServiceCall(const Req& req, Resp* resp, std::string_view internal_method, CallFn call,
                     int timeout_ms);
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

}  // namespace cloister::gateway
