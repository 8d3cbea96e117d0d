// Local token verification with revocations; see credential_cache.h.
#include "gateway/credential_cache.h"

#include "common/crypto/hash.h"

namespace cloister::gateway {

void CredentialCache::SetKeys(std::vector<crypto::PublicKey> keys) {
  std::lock_guard<std::mutex> lock(mu_);
  verifier_.emplace(std::move(keys));
  verified_.clear();
}

bool CredentialCache::has_keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verifier_.has_value();
}

void CredentialCache::AddRevocation(const internal::Revocation& r) {
  if (!r.token_id().empty()) RevokeToken(r.token_id());
  if (!r.user_id().empty()) RevokeUser(r.user_id(), r.before_unix());
}

void CredentialCache::RevokeToken(const std::string& token_id) {
  std::lock_guard<std::mutex> lock(mu_);
  revoked_tokens_[token_id] = 1;
}

void CredentialCache::RevokeUser(const std::string& user_id, int64_t before_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = revoked_users_[user_id];
  t = std::max(t, before_unix);
  // Cached API keys of the user die with it.
  for (auto it = api_keys_.begin(); it != api_keys_.end();) {
    if (it->second.first.user_id == user_id) it = api_keys_.erase(it);
    else ++it;
  }
}

Result<Principal> CredentialCache::VerifyToken(std::string_view token, int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!verifier_)
    return Unavailable("authentication keys not yet available from cloister-auth",
                       "AUTH_UNAVAILABLE");
  const std::string key = HexEncode(crypto::Sha256(AsBytes(token)));
  internal::TokenBody body;
  if (auto it = verified_.find(key); it != verified_.end() && it->second.expires_unix() > now_unix) {
    body = it->second;
  } else {
    CLOISTER_ASSIGN_OR_RETURN(body, verifier_->Verify(token, now_unix));
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
  Principal p;
  p.anonymous = false;
  p.user_id = body.user_id();
  p.username = body.username();
  for (int r : body.roles()) p.roles.push_back(static_cast<api::Role>(r));
  p.token_id = body.token_id();
  p.via = "token";
  return p;
}

std::optional<Principal> CredentialCache::CachedApiKey(const std::string& key_hash,
                                                       int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = api_keys_.find(key_hash);
  if (it == api_keys_.end() || it->second.second <= now_unix) return std::nullopt;
  return it->second.first;
}

void CredentialCache::CacheApiKey(const std::string& key_hash, Principal p, int64_t until_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (api_keys_.size() > 10'000) api_keys_.clear();
  api_keys_[key_hash] = {std::move(p), until_unix};
}

}  // namespace cloister::gateway
