// cloister-auth's gRPC layer: AuthService implements
// cloister::api::Auth::Service (proto/auth.proto). Every method first runs
// GrantVerifier::Admit (signature by the attested gateway, method, body
// digest, expiry, replay) and hands only the resulting Authorized<Req> to
// AuthLogic, which checks roles again (defense in depth) and calls AuthCore.
// Errors leave through ToGrpcStatus only.
//
//   AuthService svc(core.get(), &verifier);
//   return runner.Serve({&svc});
#pragma once

#include <memory>

#include "attestation/platform/platform_client.h"
#include "proto/auth.grpc.pb.h"
#include "services/auth/auth_core.h"
#include "services/common/authorized.h"
#include "services/common/grant_verifier.h"

namespace cloister::auth {

// The Authorized<> → Caller boundary. Only what the grant says is used to
// identify the caller; nothing in the request body can claim an identity.
class AuthLogic {
 public:
  explicit AuthLogic(AuthCore* core) : core_(core) {}

  // The verified caller (from auth's proof; see GrantVerifier).
  template <typename Req>
  static const Caller& CallerOf(const services::Authorized<Req>& a) {
    return a.caller();
  }

  Result<api::LoginResponse> Login(const services::Authorized<api::LoginRequest>& a);
  Result<api::RefreshTokenResponse> RefreshToken(
      const services::Authorized<api::RefreshTokenRequest>& a);
  Result<api::LogoutResponse> Logout(const services::Authorized<api::LogoutRequest>& a);
  Result<api::WhoAmIResponse> WhoAmI(const services::Authorized<api::WhoAmIRequest>& a);
  Result<api::CreateUserResponse> CreateUser(
      const services::Authorized<api::CreateUserRequest>& a);
  Result<api::ListUsersResponse> ListUsers(const services::Authorized<api::ListUsersRequest>& a);
  Result<api::LookupUsersResponse> LookupUsers(
      const services::Authorized<api::LookupUsersRequest>& a);
  Result<api::DisableUserResponse> DisableUser(
      const services::Authorized<api::DisableUserRequest>& a);
  Result<api::DeleteUserResponse> DeleteUser(
      const services::Authorized<api::DeleteUserRequest>& a);
  Result<api::ChangePasswordResponse> ChangePassword(
      const services::Authorized<api::ChangePasswordRequest>& a);
  Result<api::CreateApiKeyResponse> CreateApiKey(
      const services::Authorized<api::CreateApiKeyRequest>& a);
  Result<api::ListApiKeysResponse> ListApiKeys(
      const services::Authorized<api::ListApiKeysRequest>& a);
  Result<api::RevokeApiKeyResponse> RevokeApiKey(
      const services::Authorized<api::RevokeApiKeyRequest>& a);
  Result<internal::TokenKeysResponse> TokenKeys(
      const services::Authorized<internal::TokenKeysRequest>& a);
  Result<internal::RevocationsResponse> Revocations(
      const services::Authorized<internal::RevocationsRequest>& a);
  Result<internal::VerifyApiKeyResponse> VerifyApiKey(
      const services::Authorized<internal::VerifyApiKeyRequest>& a);
  Result<api::HealthResponse> Health(const services::Authorized<api::HealthRequest>& a,
                                     int security_level);

 private:
  AuthCore* core_;  // not owned
};

class AuthService final : public api::Auth::Service {
 public:
  // Neither pointer is owned; both outlive the server.
  AuthService(AuthCore* core, services::GrantVerifier* verifier, int security_level)
      : logic_(core), verifier_(verifier), security_level_(security_level) {}

  grpc::Status Login(grpc::ServerContext* ctx, const api::LoginRequest* req,
                     api::LoginResponse* resp) override;
  grpc::Status RefreshToken(grpc::ServerContext* ctx, const api::RefreshTokenRequest* req,
                            api::RefreshTokenResponse* resp) override;
  grpc::Status Logout(grpc::ServerContext* ctx, const api::LogoutRequest* req,
                      api::LogoutResponse* resp) override;
  grpc::Status WhoAmI(grpc::ServerContext* ctx, const api::WhoAmIRequest* req,
                      api::WhoAmIResponse* resp) override;
  grpc::Status CreateUser(grpc::ServerContext* ctx, const api::CreateUserRequest* req,
                          api::CreateUserResponse* resp) override;
  grpc::Status ListUsers(grpc::ServerContext* ctx, const api::ListUsersRequest* req,
                         api::ListUsersResponse* resp) override;
  grpc::Status LookupUsers(grpc::ServerContext* ctx, const api::LookupUsersRequest* req,
                           api::LookupUsersResponse* resp) override;
  grpc::Status DisableUser(grpc::ServerContext* ctx, const api::DisableUserRequest* req,
                           api::DisableUserResponse* resp) override;
  grpc::Status DeleteUser(grpc::ServerContext* ctx, const api::DeleteUserRequest* req,
                          api::DeleteUserResponse* resp) override;
  grpc::Status ChangePassword(grpc::ServerContext* ctx, const api::ChangePasswordRequest* req,
                              api::ChangePasswordResponse* resp) override;
  grpc::Status CreateApiKey(grpc::ServerContext* ctx, const api::CreateApiKeyRequest* req,
                            api::CreateApiKeyResponse* resp) override;
  grpc::Status ListApiKeys(grpc::ServerContext* ctx, const api::ListApiKeysRequest* req,
                           api::ListApiKeysResponse* resp) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* ctx, const api::RevokeApiKeyRequest* req,
                            api::RevokeApiKeyResponse* resp) override;
  grpc::Status TokenKeys(grpc::ServerContext* ctx, const internal::TokenKeysRequest* req,
                         internal::TokenKeysResponse* resp) override;
  grpc::Status Revocations(grpc::ServerContext* ctx, const internal::RevocationsRequest* req,
                           internal::RevocationsResponse* resp) override;
  grpc::Status VerifyApiKey(grpc::ServerContext* ctx, const internal::VerifyApiKeyRequest* req,
                            internal::VerifyApiKeyResponse* resp) override;
  grpc::Status Health(grpc::ServerContext* ctx, const api::HealthRequest* req,
                      api::HealthResponse* resp) override;

 private:
  AuthLogic logic_;
  services::GrantVerifier* verifier_;
  int security_level_;
};

}  // namespace cloister::auth
