// CredentialCache: what the gateway knows to authenticate requests locally:
// auth's token-signing public keys and the revocation list, both pulled
// from cloister-auth (and updated at once when a Logout/DisableUser/…
// passes through this gateway), plus a short-lived cache of verified API
// keys (keyed by SHA-256 of the key; the key itself is never stored).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "gateway/request_context.h"
#include "proto/internal.pb.h"
#include "services/auth/token.h"

namespace cloister::gateway {

class CredentialCache {
 public:
  void SetKeys(std::vector<crypto::PublicKey> keys);
  bool has_keys() const;
  void AddRevocation(const internal::Revocation& r);
  void RevokeToken(const std::string& token_id);
  void RevokeUser(const std::string& user_id, int64_t before_unix);

  // Unauthenticated with TOKEN_* reasons, TOKEN_REVOKED or USER_DISABLED;
  // Unavailable [AUTH_UNAVAILABLE] before the keys were fetched.
  Result<Principal> VerifyToken(std::string_view token, int64_t now_unix) const;

  std::optional<Principal> CachedApiKey(const std::string& key_hash, int64_t now_unix) const;
  void CacheApiKey(const std::string& key_hash, Principal p, int64_t until_unix);

 private:
  mutable std::mutex mu_;
  std::optional<auth::TokenVerifier> verifier_;
  std::map<std::string, int64_t> revoked_tokens_;      // token id → revoked at (ms)
  std::map<std::string, int64_t> revoked_users_;       // user id → tokens before (unix s) are void
  std::map<std::string, std::pair<Principal, int64_t>> api_keys_;
  // Signature-verified token bodies by SHA-256(token): the Ed25519 check is
  // the dominant per-call cost. Expiry and revocation are re-checked on
  // every use; the cache is dropped when the keys change.
  mutable std::map<std::string, internal::TokenBody> verified_;
};

}  // namespace cloister::gateway
