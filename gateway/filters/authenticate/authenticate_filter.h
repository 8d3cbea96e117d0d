// Authenticate: turns the "authorization" metadata into a Caller and the
// auth proof the grant will carry (services verify it again themselves).
//   (none)                → anonymous (authorize decides if that is enough)
//   "Bearer <token>"      → verified locally (signature, audience, expiry,
//                           revocation) by the CredentialCache
//   "ApiKey <id>.<secret>"→ verified by cloister-auth, which returns a
//                           short-lived proof (a token it signed, carrying
//                           the key's scope); cached ≤ 30 s, the proof
//                           re-verified on every use, so a revocation
//                           (polled every second) applies at once and
//                           the next use asks auth again
// Anything else, or a bad credential → Unauthenticated with a reason.
#pragma once

#include <functional>

#include "gateway/credential_cache.h"
#include "gateway/filter.h"

namespace cloister::gateway {

class AuthenticateFilter final : public Filter {
 public:
  // Asks cloister-auth about an API key (never called for tokens).
  using ApiKeyLookup = std::function<Result<ApiKeyProof>(const std::string& api_key)>;
  using NowFn = std::function<int64_t()>;
  AuthenticateFilter(CredentialCache* cache, ApiKeyLookup lookup, NowFn now = nullptr);
  std::string_view name() const override { return "authenticate"; }
  Status OnRequest(RequestContext& ctx) override;

 private:
  CredentialCache* cache_;
  ApiKeyLookup lookup_;
  NowFn now_;
};

}  // namespace cloister::gateway
