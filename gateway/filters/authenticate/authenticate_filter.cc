// Credential parsing and verification; see authenticate_filter.h.
#include "gateway/filters/authenticate/authenticate_filter.h"

#include <algorithm>
#include <ctime>

#include "common/crypto/hash.h"

namespace cloister::gateway {

AuthenticateFilter::AuthenticateFilter(CredentialCache* cache, ApiKeyLookup lookup, NowFn now)
    : cache_(cache), lookup_(std::move(lookup)), now_(std::move(now)) {
  if (!now_) now_ = [] { return static_cast<int64_t>(time(nullptr)); };
}

Status AuthenticateFilter::OnRequest(RequestContext& ctx) {
  const std::string& h = ctx.authorization;
  if (h.empty()) {
    ctx.principal = services::Caller::Anonymous();
    ctx.auth_proof.clear();
    return OkStatus();
  }
  if (h.size() > 8192) return Unauthenticated("authorization header too long", "CREDENTIAL_MALFORMED");
  if (h.rfind("Bearer ", 0) == 0) {
    CLOISTER_ASSIGN_OR_RETURN(ctx.principal, cache_->VerifyToken(h.substr(7), now_()));
    ctx.auth_proof = h.substr(7);
    return OkStatus();
  }
  if (h.rfind("ApiKey ", 0) == 0) {
    std::string key = h.substr(7);
    std::string hash = HexEncode(crypto::Sha256(AsBytes(key)));
    const int64_t now = now_();
    std::optional<ApiKeyProof> p = cache_->CachedApiKey(hash, now);
    if (!p) {
      CLOISTER_ASSIGN_OR_RETURN(ApiKeyProof fresh, lookup_(key));
      // Reused for at most 30 s, and never past the proof's own expiry.
      fresh.until_unix = std::min(fresh.until_unix, now + 30);
      cache_->CacheApiKey(hash, fresh);
      p = std::move(fresh);
    }
    CLOISTER_ASSIGN_OR_RETURN(ctx.principal, cache_->VerifyToken(p->proof, now));
    ctx.auth_proof = p->proof;
    return OkStatus();
  }
  return Unauthenticated("authorization must be 'Bearer <token>' or 'ApiKey <key>'",
                         "CREDENTIAL_MALFORMED");
}

}  // namespace cloister::gateway
