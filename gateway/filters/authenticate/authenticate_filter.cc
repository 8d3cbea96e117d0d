// Credential parsing and verification; see authenticate_filter.h.
#include "gateway/filters/authenticate/authenticate_filter.h"

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
    ctx.principal = Principal{};
    ctx.principal.via = "anonymous";
    return OkStatus();
  }
  if (h.size() > 8192) return Unauthenticated("authorization header too long", "CREDENTIAL_MALFORMED");
  if (h.rfind("Bearer ", 0) == 0) {
    CLOISTER_ASSIGN_OR_RETURN(ctx.principal, cache_->VerifyToken(h.substr(7), now_()));
    return OkStatus();
  }
  if (h.rfind("ApiKey ", 0) == 0) {
    std::string key = h.substr(7);
    std::string hash = HexEncode(crypto::Sha256(AsBytes(key)));
    const int64_t now = now_();
    if (auto p = cache_->CachedApiKey(hash, now)) {
      ctx.principal = *p;
      return OkStatus();
    }
    CLOISTER_ASSIGN_OR_RETURN(Principal p, lookup_(key));
    p.via = "api-key";
    cache_->CacheApiKey(hash, p, now + 30);
    ctx.principal = std::move(p);
    return OkStatus();
  }
  return Unauthenticated("authorization must be 'Bearer <token>' or 'ApiKey <key>'",
                         "CREDENTIAL_MALFORMED");
}

}  // namespace cloister::gateway
