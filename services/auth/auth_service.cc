// AuthService: admit → Authorized<Req> → AuthLogic → AuthCore.
#include "services/auth/auth_service.h"

#include "common/grpc_status.h"

namespace cloister::auth {

// ---- AuthLogic ----

Result<api::LoginResponse> AuthLogic::Login(const services::Authorized<api::LoginRequest>& a) {
  // The client's source from the verified grant: the throttle is per
  // (username, source), so a stranger's failures never lock others out.
  return core_->Login(a->username(), a->password(), a.source());
}

Result<api::RefreshTokenResponse> AuthLogic::RefreshToken(
    const services::Authorized<api::RefreshTokenRequest>& a) {
  return core_->Refresh(a->refresh_token());
}

Result<api::LogoutResponse> AuthLogic::Logout(const services::Authorized<api::LogoutRequest>& a) {
  CLOISTER_RETURN_IF_ERROR(core_->Logout(CallerOf(a)));
  return api::LogoutResponse();
}

Result<api::WhoAmIResponse> AuthLogic::WhoAmI(const services::Authorized<api::WhoAmIRequest>& a) {
  return core_->WhoAmI(CallerOf(a));
}

Result<api::CreateUserResponse> AuthLogic::CreateUser(
    const services::Authorized<api::CreateUserRequest>& a) {
  return core_->CreateUser(CallerOf(a), a.request());
}

Result<api::ListUsersResponse> AuthLogic::ListUsers(
    const services::Authorized<api::ListUsersRequest>& a) {
  return core_->ListUsers(CallerOf(a));
}

Result<api::LookupUsersResponse> AuthLogic::LookupUsers(
    const services::Authorized<api::LookupUsersRequest>& a) {
  return core_->LookupUsers(a.request());
}

Result<api::DisableUserResponse> AuthLogic::DisableUser(
    const services::Authorized<api::DisableUserRequest>& a) {
  return core_->DisableUser(CallerOf(a), a.request());
}

Result<api::DeleteUserResponse> AuthLogic::DeleteUser(
    const services::Authorized<api::DeleteUserRequest>& a) {
  CLOISTER_RETURN_IF_ERROR(core_->DeleteUser(CallerOf(a), a->username()));
  return api::DeleteUserResponse();
}

Result<api::ChangePasswordResponse> AuthLogic::ChangePassword(
    const services::Authorized<api::ChangePasswordRequest>& a) {
  // Changing another user's password is admin-only; AuthCore decides "self"
  // from the grant's principal and enforces it.
  CLOISTER_RETURN_IF_ERROR(core_->ChangePassword(CallerOf(a), a.request(), a.source()));
  return api::ChangePasswordResponse();
}

Result<api::CreateApiKeyResponse> AuthLogic::CreateApiKey(
    const services::Authorized<api::CreateApiKeyRequest>& a) {
  return core_->CreateApiKey(CallerOf(a), a.request());
}

Result<api::ListApiKeysResponse> AuthLogic::ListApiKeys(
    const services::Authorized<api::ListApiKeysRequest>& a) {
  return core_->ListApiKeys(CallerOf(a), a.request());
}

Result<api::RevokeApiKeyResponse> AuthLogic::RevokeApiKey(
    const services::Authorized<api::RevokeApiKeyRequest>& a) {
  return core_->RevokeApiKey(CallerOf(a), a.request());
}

Result<internal::TokenKeysResponse> AuthLogic::TokenKeys(
    const services::Authorized<internal::TokenKeysRequest>&) {
  return core_->TokenKeys();
}

Result<internal::RevocationsResponse> AuthLogic::Revocations(
    const services::Authorized<internal::RevocationsRequest>& a) {
  return core_->Revocations(a->since_unix_ms());
}

Result<internal::VerifyApiKeyResponse> AuthLogic::VerifyApiKey(
    const services::Authorized<internal::VerifyApiKeyRequest>& a) {
  return core_->VerifyApiKey(a->api_key());
}

Result<api::HealthResponse> AuthLogic::Health(const services::Authorized<api::HealthRequest>&,
                                              int security_level) {
  api::HealthResponse resp;
  resp.set_status("SERVING");
  resp.set_service("auth");
  resp.set_version(CLOISTER_VERSION);
  resp.set_security_level(security_level);
  return resp;
}

// ---- AuthService: every handler admits first ----

namespace {

template <typename Resp>
grpc::Status Reply(Result<Resp> r, Resp* out) {
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out = std::move(*r);
  return grpc::Status::OK;
}

}  // namespace

#define CLOISTER_AUTH_HANDLER(Method, Req, Resp, ...)                                   \
  grpc::Status AuthService::Method(grpc::ServerContext* ctx, const Req* req, Resp* resp) { \
    auto authz = verifier_->Admit(*ctx, *req, "/cloister.api.Auth/" #Method);       \
    if (!authz.ok()) return ToGrpcStatus(authz.status());                                 \
    return Reply(logic_.Method(*authz __VA_OPT__(, ) __VA_ARGS__), resp);                 \
  }

CLOISTER_AUTH_HANDLER(Login, api::LoginRequest, api::LoginResponse)
CLOISTER_AUTH_HANDLER(RefreshToken, api::RefreshTokenRequest, api::RefreshTokenResponse)
CLOISTER_AUTH_HANDLER(Logout, api::LogoutRequest, api::LogoutResponse)
CLOISTER_AUTH_HANDLER(WhoAmI, api::WhoAmIRequest, api::WhoAmIResponse)
CLOISTER_AUTH_HANDLER(CreateUser, api::CreateUserRequest, api::CreateUserResponse)
CLOISTER_AUTH_HANDLER(ListUsers, api::ListUsersRequest, api::ListUsersResponse)
CLOISTER_AUTH_HANDLER(LookupUsers, api::LookupUsersRequest, api::LookupUsersResponse)
CLOISTER_AUTH_HANDLER(DisableUser, api::DisableUserRequest, api::DisableUserResponse)
CLOISTER_AUTH_HANDLER(DeleteUser, api::DeleteUserRequest, api::DeleteUserResponse)
CLOISTER_AUTH_HANDLER(ChangePassword, api::ChangePasswordRequest, api::ChangePasswordResponse)
CLOISTER_AUTH_HANDLER(CreateApiKey, api::CreateApiKeyRequest, api::CreateApiKeyResponse)
CLOISTER_AUTH_HANDLER(ListApiKeys, api::ListApiKeysRequest, api::ListApiKeysResponse)
CLOISTER_AUTH_HANDLER(RevokeApiKey, api::RevokeApiKeyRequest, api::RevokeApiKeyResponse)
CLOISTER_AUTH_HANDLER(TokenKeys, internal::TokenKeysRequest, internal::TokenKeysResponse)
CLOISTER_AUTH_HANDLER(Revocations, internal::RevocationsRequest, internal::RevocationsResponse)
CLOISTER_AUTH_HANDLER(VerifyApiKey, internal::VerifyApiKeyRequest, internal::VerifyApiKeyResponse)
CLOISTER_AUTH_HANDLER(Health, api::HealthRequest, api::HealthResponse, security_level_)

#undef CLOISTER_AUTH_HANDLER

}  // namespace cloister::auth
