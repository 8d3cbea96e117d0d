// The gateway's API-key cache over the IdentityVerifier; see credential_cache.h.
#include "gateway/credential_cache.h"

namespace cloister::gateway {

void CredentialCache::RevokeUser(const std::string& user_id, int64_t before_unix) {
  identity_.RevokeUser(user_id, before_unix);
  std::lock_guard<std::mutex> lock(mu_);
  // Cached API keys of the user die with it.
  for (auto it = api_keys_.begin(); it != api_keys_.end();) {
    if (it->second.user_id == user_id) it = api_keys_.erase(it);
    else ++it;
  }
}

std::optional<ApiKeyProof> CredentialCache::CachedApiKey(const std::string& key_hash,
                                                         int64_t now_unix) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = api_keys_.find(key_hash);
  if (it == api_keys_.end() || it->second.until_unix <= now_unix) return std::nullopt;
  return it->second;
}

void CredentialCache::CacheApiKey(const std::string& key_hash, ApiKeyProof p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (api_keys_.size() > 10'000) api_keys_.clear();
  api_keys_[key_hash] = std::move(p);
}

void CredentialCache::ForgetApiKey(const std::string& key_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  api_keys_.erase(key_hash);
}

}  // namespace cloister::gateway
