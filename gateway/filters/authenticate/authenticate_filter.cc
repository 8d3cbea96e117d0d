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
    if (std::optional<ApiKeyProof> cached = cache_->CachedApiKey(hash, now)) {
      auto caller = cache_->VerifyToken(cached->proof, now);
      if (caller.ok()) {
        ctx.principal = *std::move(caller);
        ctx.auth_proof = cached->proof;
        return OkStatus();
      }
      if (caller.error().code() == Code::kUnavailable) return caller.error();
      // Revoked (the key, or every credential of its user) since it was
      // cached: auth's answer says why (a revoked key is INVALID_API_KEY).
      cache_->ForgetApiKey(hash);
    }
    CLOISTER_ASSIGN_OR_RETURN(ApiKeyProof fresh, lookup_(key));
    // Reused for at most 30 s, and never past the proof's own expiry; a
    // revocation still applies at once, since the proof is re-verified
    // against the revocations on every use.
    fresh.until_unix = std::min(fresh.until_unix, now + 30);
    CLOISTER_ASSIGN_OR_RETURN(ctx.principal, cache_->VerifyToken(fresh.proof, now));
    ctx.auth_proof = fresh.proof;
    cache_->CacheApiKey(hash, std::move(fresh));
    return OkStatus();
  }
  return Unauthenticated("authorization must be 'Bearer <token>' or 'ApiKey <key>'",
                         "CREDENTIAL_MALFORMED");
}

}  // namespace cloister::gateway
