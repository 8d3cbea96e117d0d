// CredentialCache: what the gateway knows to authenticate requests locally:
// the IdentityVerifier (auth's token keys and revocations, kept current by
// an AuthFollower, and updated at once when a Logout/DisableUser passes
// through this gateway), plus a short-lived cache of verified API keys —
// keyed by SHA-256 of the key (the key itself is never stored), holding
// the auth proof auth returned for it, which is re-verified on every use:
// revoking a key revokes its proofs' token id ("apikey:<id>"), so a cached
// entry of a revoked key fails that check at the next use (and is dropped)
// as soon as the revocation poll has brought the revocation here.
#pragma once

#include <map>
#include <mutex>
#include <optional>

#include "common/thread_annotations.h"
#include "services/common/identity_verifier.h"

namespace cloister::gateway {

// An API key auth vouched for: the proof (a token auth signed) and until
// when this gateway may reuse it without asking auth again.
struct ApiKeyProof {
  std::string proof;
  std::string user_id;
  int64_t until_unix = 0;
};

class CredentialCache {
 public:
  services::IdentityVerifier& identity() { return identity_; }
  const services::IdentityVerifier& identity() const { return identity_; }
  bool has_keys() const { return identity_.has_keys(); }
  void RevokeToken(const std::string& token_id) { identity_.RevokeToken(token_id); }
  void RevokeUser(const std::string& user_id, int64_t before_unix);

  // Unauthenticated with TOKEN_* reasons or TOKEN_REVOKED; Unavailable
  // [AUTH_UNAVAILABLE] before the keys were fetched.
  Result<services::Caller> VerifyToken(std::string_view token, int64_t now_unix) const {
    return identity_.Verify(token, now_unix);
  }

  std::optional<ApiKeyProof> CachedApiKey(const std::string& key_hash, int64_t now_unix) const;
  void CacheApiKey(const std::string& key_hash, ApiKeyProof p);
  void ForgetApiKey(const std::string& key_hash);

 private:
  services::IdentityVerifier identity_;
  mutable std::mutex mu_;
  std::map<std::string, ApiKeyProof> api_keys_ CLOISTER_GUARDED_BY(mu_);
};

}  // namespace cloister::gateway
