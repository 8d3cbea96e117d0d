// IdentityVerifier: turns an auth proof into a Caller, the same way in the
// gateway and in every service (issue 9: a downstream service does not
// take the gateway's word for who the user is). A proof is a token that
// cloister-auth signed: the user's own access token, or, for a request
// made with an API key, the short-lived token auth minted when the
// gateway verified the key (token id "apikey:<key id>"). It is checked
// against auth's token keys — which AuthFollower fetches from this
// cluster's genuine auth over mutual RA-TLS of a pinned configuration and
// REPLACES on every refresh, so a dropped key stops verifying — and
// against the revocations auth published. An API key's proof carries the
// key's scope (TokenBody.scope), which the Caller keeps; revoking a key
// revokes the token id "apikey:<key id>".
//
//   CLOISTER_ASSIGN_OR_RETURN(Caller who, identity.Verify(grant.auth_proof(), now_unix));
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "proto/internal.pb.h"
#include "services/auth/token.h"
#include "services/common/caller.h"

namespace cloister::services {

inline constexpr const char* kApiKeyProofPrefix = "apikey:";

class IdentityVerifier {
 public:
  // Replaces the key set (a key auth no longer lists stops verifying).
  void SetKeys(std::vector<crypto::PublicKey> keys);
  bool has_keys() const;
  void AddRevocation(const internal::Revocation& r);
  void RevokeToken(const std::string& token_id);
  void RevokeUser(const std::string& user_id, int64_t before_unix);

  // Unauthenticated with a TOKEN_* reason (malformed, signature — e.g. a
  // token of a rogue auth —, expired, audience) or TOKEN_REVOKED;
  // Unavailable [AUTH_UNAVAILABLE] before any keys were loaded.
  // Thread-safe.
  Result<Caller> Verify(std::string_view proof, int64_t now_unix) const;

 private:
  mutable std::mutex mu_;
  std::optional<auth::TokenVerifier> verifier_ CLOISTER_GUARDED_BY(mu_);
  std::map<std::string, int64_t> revoked_tokens_ CLOISTER_GUARDED_BY(mu_);  // token id → 1
  std::map<std::string, int64_t> revoked_users_ CLOISTER_GUARDED_BY(mu_);   // user → tokens issued ≤ t void
  // Signature-verified bodies by SHA-256(token): the Ed25519 check is the
  // dominant per-call cost. Expiry and revocation are re-checked on every
  // use; the cache is dropped when the keys change.
  mutable std::map<std::string, internal::TokenBody> verified_ CLOISTER_GUARDED_BY(mu_);
};

}  // namespace cloister::services
