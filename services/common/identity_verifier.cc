// Auth proofs → Caller; see identity_verifier.h.
#include "services/common/identity_verifier.h"

#include "common/crypto/hash.h"

namespace cloister::services {

void IdentityVerifier::SetKeys(std::vector<crypto::PublicKey> keys) {
  std::lock_guard<std::mutex> lock(mu_);
  verifier_.emplace(std::move(keys));
  verified_.clear();
}

bool IdentityVerifier::has_keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verifier_.has_value();
}

void IdentityVerifier::AddRevocation(const internal::Revocation& r) {
  if (!r.token_id().empty()) RevokeToken(r.token_id());
  if (!r.user_id().empty()) RevokeUser(r.user_id(), r.before_unix());
}

void IdentityVerifier::RevokeToken(const std::string& token_id) {
  std::lock_guard<std::mutex> lock(mu_);
  revoked_tokens_[token_id] = 1;
}

void IdentityVerifier::RevokeUser(const std::string& user_id, int64_t before_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = revoked_users_[user_id];
  t = std::max(t, before_unix);
}

Result<Caller> IdentityVerifier::Verify(std::string_view proof, int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!verifier_)
    return Unavailable("authentication keys not yet available from cloister-auth",
                       "AUTH_UNAVAILABLE");
  const std::string key = HexEncode(crypto::Sha256(AsBytes(proof)));
  internal::TokenBody body;
  if (auto it = verified_.find(key); it != verified_.end() && it->second.expires_unix() > now_unix) {
    body = it->second;
  } else {
    CLOISTER_ASSIGN_OR_RETURN(body, verifier_->Verify(proof, now_unix));
    if (verified_.size() > 50'000) verified_.clear();  // bounded
    verified_[key] = body;
  }
  if (revoked_tokens_.count(body.token_id()))
    return Unauthenticated("token was revoked (logged out)", "TOKEN_REVOKED");
  auto u = revoked_users_.find(body.user_id());
  if (u != revoked_users_.end() && body.issued_unix() <= u->second)
    return Unauthenticated("token is no longer valid for this user (disabled, deleted or "
                           "password changed)",
                           "TOKEN_REVOKED");
  Caller c;
  c.kind_ = Caller::Kind::kUser;
  c.user_id_ = body.user_id();
  c.username_ = body.username();
  for (int r : body.roles()) c.roles_.push_back(static_cast<api::Role>(r));
  c.token_id_ = body.token_id();
  c.via_ = body.token_id().rfind(kApiKeyProofPrefix, 0) == 0 ? "api-key" : "token";
  // The key's scope is part of the signed proof: every verifier enforces
  // the same one (CheckApiKeyScope), whatever the gateway claims.
  c.scope_ = body.scope();
  return c;
}

}  // namespace cloister::services
