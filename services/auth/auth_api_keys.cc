// AuthCore's API keys (issue 11): create with an expiry and an optional
// scope, list, revoke, and verify for the gateway, which gets back a
// short-lived proof carrying the scope. See auth_core.h for the contract.
//
// Revocation reaches every verifier through the revocation feed: revoking
// key K deletes it (auth refuses it from then on) and revokes the token id
// "apikey:K" of its proofs, which the gateway and every service poll
// (AuthFollower, every second), so a proof the gateway cached stops working
// within one poll. A password change, disable or delete does the same for
// all of a user's keys through the user-wide revocation.
#include <algorithm>

#include "common/crypto/random.h"
#include "common/logging.h"
#include "common/secret.h"
#include "services/auth/api_key_scope.h"
#include "services/auth/auth_core.h"
#include "services/auth/auth_core_detail.h"

namespace cloister::auth {
namespace {

constexpr size_t kMaxApiKeyLength = 256;
constexpr size_t kMaxDescriptionLength = 256;
constexpr std::string_view kApiKeyIdPrefix = "ak";
constexpr size_t kApiKeyIdHexChars = 16;
// The token id of a key's proofs (= services::kApiKeyProofPrefix + key id).
constexpr std::string_view kProofTokenPrefix = "apikey:";

bool IsKeyId(std::string_view id) {
  return id.size() == kApiKeyIdPrefix.size() + kApiKeyIdHexChars &&
         id.starts_with(kApiKeyIdPrefix) && HexDecode(id.substr(kApiKeyIdPrefix.size())).ok();
}

std::string ProofTokenId(std::string_view key_id) {
  return std::string(kProofTokenPrefix) + std::string(key_id);
}

}  // namespace

int64_t AuthCore::ApiKeyExpiry(const ApiKeyRecord& k) const {
  const int64_t cap = k.created_unix + options_.api_key_max_expiry_s;
  return k.expires_unix == 0 ? cap : std::min(k.expires_unix, cap);
}

Result<api::ApiKeyInfo> AuthCore::ToApiKeyInfo(const ApiKeyRecord& k,
                                                std::string_view username) const {
  api::ApiKeyInfo out;
  out.set_key_id(k.key_id);
  out.set_description(k.description);
  out.set_created_unix(k.created_unix);
  out.set_last_used_unix(k.last_used_unix);
  out.set_expires_unix(ApiKeyExpiry(k));
  CLOISTER_ASSIGN_OR_RETURN(*out.mutable_scope(), ScopeFromText(k.scope));
  out.set_username(std::string(username));
  return out;
}

Result<api::CreateApiKeyResponse> AuthCore::CreateApiKey(const Caller& caller,
                                                         const api::CreateApiKeyRequest& req) {
  // A stolen key must not extend itself: keys are minted only by a
  // password session (whose token a password change revokes).
  if (caller.via() == "api-key")
    return PermissionDenied("an API key cannot create API keys; sign in with a password",
                            auth_reason::kApiKeyCannotMint);
  if (req.description().size() > kMaxDescriptionLength)
    return InvalidArgument("description: at most 256 bytes");
  const int64_t now = NowS();
  if (req.expires_in_s() != 0 && req.expires_unix() != 0)
    return InvalidArgument("expires_in_s and expires_unix: give one, not both");
  if (req.expires_in_s() < 0) return InvalidArgument("expires_in_s: must not be negative");
  if (req.expires_unix() < 0 || (req.expires_unix() != 0 && req.expires_unix() <= now))
    return InvalidArgument("expires_unix: must be 0 or in the future");
  int64_t lifetime = options_.api_key_default_expiry_s;
  if (req.expires_in_s() > 0) lifetime = req.expires_in_s();
  if (req.expires_unix() > 0) lifetime = req.expires_unix() - now;
  if (lifetime > options_.api_key_max_expiry_s)
    return InvalidArgument("expiry: at most " + std::to_string(options_.api_key_max_expiry_s) +
                               " s from now (this cluster's maximum API key lifetime)",
                           auth_reason::kApiKeyExpiryTooLong);
  CLOISTER_ASSIGN_OR_RETURN(api::ApiKeyScope scope, CanonicalScope(req.scope()));
  CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserById(store_->db(), caller.user_id()));
  if (!user) return NotFound("API keys belong to users; the caller is not one",
                             auth_reason::kUserNotFound);
  if (user->disabled) return PermissionDenied("user is disabled", auth_reason::kUserDisabled);
  CLOISTER_ASSIGN_OR_RETURN(int64_t count, store_->CountApiKeys(store_->db(), user->user_id, now));
  if (count >= options_.max_api_keys_per_user)
    return ResourceExhausted("too many API keys for this user; revoke unused ones");
  std::string key_id = std::string(kApiKeyIdPrefix) + HexEncode(crypto::RandomBytes(8));
  SecretBytes raw = SecretBytes::Random(32);
  std::string secret = Base64UrlEncode(raw.view());
  ApiKeyRecord rec{.key_id = key_id, .user_id = user->user_id,
                   .secret_hash = detail::HashSecret(secret), .expires_unix = now + lifetime,
                   .description = req.description(), .created_unix = now,
                   .scope = ScopeToText(scope)};
  CLOISTER_RETURN_IF_ERROR(store_->InsertApiKey(store_->db(), rec));
  api::CreateApiKeyResponse resp;
  resp.set_api_key(key_id + "." + secret);
  resp.set_key_id(key_id);
  resp.set_expires_unix(rec.expires_unix);
  Cleanse(secret);
  LOG_INFO("api key created", {{"user_id", user->user_id}, {"key_id", key_id},
                               {"expires_unix", rec.expires_unix}, {"scope", rec.scope}});
  return resp;
}

Result<api::ListApiKeysResponse> AuthCore::ListApiKeys(const Caller& caller,
                                                       const api::ListApiKeysRequest& req) {
  if (!req.username().empty()) CLOISTER_RETURN_IF_ERROR(ValidateUsername(req.username()));
  CLOISTER_ASSIGN_OR_RETURN(auto self, store_->FindUserById(store_->db(), caller.user_id()));
  UserRecord target;
  if (req.username().empty() || (self && self->username == req.username())) {
    if (!self) return NotFound("API keys belong to users; the caller is not one",
                               auth_reason::kUserNotFound);
    target = *self;
  } else {
    if (!caller.is_admin())
      return PermissionDenied("listing another user's API keys needs the admin role",
                              auth_reason::kAdminRequired);
    CLOISTER_ASSIGN_OR_RETURN(target, RequireUser(store_->db(), req.username()));
  }
  CLOISTER_ASSIGN_OR_RETURN(auto keys, store_->ListApiKeys(store_->db(), target.user_id));
  api::ListApiKeysResponse resp;
  for (const auto& k : keys) {
    CLOISTER_ASSIGN_OR_RETURN(*resp.add_keys(), ToApiKeyInfo(k, target.username));
  }
  return resp;
}

Result<api::RevokeApiKeyResponse> AuthCore::RevokeApiKey(const Caller& caller,
                                                         const api::RevokeApiKeyRequest& req) {
  if (req.key_id().empty()) return InvalidArgument("key_id is required");
  if (!IsKeyId(req.key_id()))
    return InvalidArgument("key_id: an API key id looks like ak<16 hex digits>");
  api::RevokeApiKeyResponse resp;
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto key, store_->FindApiKey(tx, req.key_id()));
    // Someone else's key answers like no key: ids are not to be probed.
    if (!key || (key->user_id != caller.user_id() && !caller.is_admin()))
      return NotFound("no API key " + req.key_id() + " of yours", auth_reason::kApiKeyNotFound);
    CLOISTER_ASSIGN_OR_RETURN(auto owner, store_->FindUserById(tx, key->user_id));
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(),
                              ToApiKeyInfo(*key, owner ? owner->username : ""));
    CLOISTER_RETURN_IF_ERROR(store_->DeleteApiKey(tx, key->key_id).status());
    // Kept until every proof of the key has expired (a proof lives
    // kApiKeyProofLifetimeS and may be issued up to a second or two ahead).
    return store_->InsertRevocation(
        tx, {.token_id = ProofTokenId(key->key_id), .revoked_unix_ms = NowMs()},
        NowS() + kApiKeyProofLifetimeS + 2 * kTokenClockSkewSeconds);
  }); !tx_status.ok()) return tx_status;
  LOG_INFO("api key revoked", {{"key_id", req.key_id()}, {"by", caller.user_id()}});
  return resp;
}

Result<internal::VerifyApiKeyResponse> AuthCore::VerifyApiKey(std::string_view api_key) {
  if (api_key.empty()) return InvalidArgument("api_key is required");
  if (api_key.size() > kMaxApiKeyLength) return InvalidArgument("api_key: too long");
  Error invalid = Unauthenticated("API key is invalid or was revoked", auth_reason::kInvalidApiKey);
  size_t dot = api_key.find('.');
  if (dot == std::string_view::npos) return invalid;
  std::string_view key_id = api_key.substr(0, dot);
  std::string_view secret = api_key.substr(dot + 1);
  if (!IsKeyId(key_id) || secret.empty()) return invalid;
  CLOISTER_ASSIGN_OR_RETURN(auto key, store_->FindApiKey(store_->db(), key_id));
  Bytes got = detail::HashSecret(secret);
  // Compare even for an unknown id so both paths cost the same.
  Bytes expected = key ? key->secret_hash : Bytes(got.size(), 0);
  bool match = ConstantTimeEqual(got, expected) && key.has_value();
  if (!match) return invalid;
  const int64_t now = NowS();
  const int64_t key_expires = ApiKeyExpiry(*key);
  if (now >= key_expires) return Unauthenticated("API key expired", auth_reason::kApiKeyExpired);
  CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserById(store_->db(), key->user_id));
  if (!user) return invalid;
  if (user->disabled) return PermissionDenied("user is disabled", auth_reason::kUserDisabled);
  // Fail closed on a scope that does not parse: never an unrestricted key.
  CLOISTER_ASSIGN_OR_RETURN(api::ApiKeyScope scope, ScopeFromText(key->scope));
  if (now - key->last_used_unix >= kApiKeyLastUsedGranularityS) {
    // Bookkeeping only: a failed write must not refuse a valid key.
    if (Status st = store_->TouchApiKey(store_->db(), key->key_id, now,
                                        kApiKeyLastUsedGranularityS);
        !st.ok())
      LOG_WARN("api key last-use update failed", {{"key_id", key->key_id},
                                                  {"error", st.ToString()}});
  }
  internal::VerifyApiKeyResponse resp;
  *resp.mutable_user() = ToApiUser(*user);
  resp.set_key_id(key->key_id);
  // The auth proof for requests made with this key: a token auth signs,
  // short-lived (and never beyond the key's own expiry), which every
  // service verifies itself (services/common/identity_verifier.h),
  // carrying the scope every verifier enforces.
  CLOISTER_ASSIGN_OR_RETURN(int64_t before,
                            store_->LatestUserRevocation(store_->db(), user->user_id, now));
  internal::TokenBody body;
  body.set_version(kTokenVersion);
  body.set_token_id(ProofTokenId(key->key_id));
  body.set_user_id(user->user_id);
  body.set_username(user->username);
  if (user->roles & kRoleUserBit) body.add_roles(api::ROLE_USER);
  if (user->roles & kRoleAdminBit) body.add_roles(api::ROLE_ADMIN);
  body.set_audience(kTokenAudience);
  body.set_issued_unix(detail::IssuedAfter(now, before));
  body.set_expires_unix(std::min(body.issued_unix() + kApiKeyProofLifetimeS, key_expires));
  if (scope.read_only() || scope.methods_size() > 0) *body.mutable_scope() = std::move(scope);
  CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_proof(), SignToken(body));
  resp.set_proof_expires_unix(body.expires_unix());
  return resp;
}

}  // namespace cloister::auth
