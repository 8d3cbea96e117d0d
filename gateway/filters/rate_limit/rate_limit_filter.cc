// Token-bucket rate limiting; see rate_limit_filter.h.
#include "gateway/filters/rate_limit/rate_limit_filter.h"

#include <algorithm>

namespace cloister::gateway {

RateLimitFilter::RateLimitFilter(RateLimitPolicy policy, Clock clock)
    : policy_(policy), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
}

namespace {
// The peer is "ipv4:1.2.3.4:port": limit per address, not per connection.
std::string Address(const std::string& peer) { return peer.substr(0, peer.rfind(':')); }
}  // namespace

Status RateLimitFilter::OnRequest(RequestContext& ctx) {
  const bool anon = ctx.principal.anonymous();
  const std::string key = anon ? "ip:" + Address(ctx.peer) : "u:" + ctx.principal.user_id();
  return anon ? Take(key, policy_.anonymous_per_ip_rps, policy_.anonymous_per_ip_burst)
              : Take(key, policy_.per_principal_rps, policy_.per_principal_burst);
}

Status RateLimitFilter::ChargeFailedCredential(const RequestContext& ctx) {
  return Take("bad-credential:" + Address(ctx.peer), policy_.anonymous_per_ip_rps,
              policy_.anonymous_per_ip_burst);
}

Status RateLimitFilter::Take(const std::string& key, double rate, double burst) {
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      // Evict idle buckets (refilled to their burst: forgetting them
      // changes nothing), never the busy ones an attacker wants reset.
      for (auto e = buckets_.begin(); e != buckets_.end();) {
        const Bucket& b = e->second;
        if (b.tokens + (now - b.last) * b.rate >= b.burst) e = buckets_.erase(e);
        else ++e;
      }
      if (buckets_.size() >= kMaxBuckets)
        return ResourceExhausted("too many clients are being rate limited; retry later",
                                 "RATE_LIMITED");
    }
    it = buckets_.emplace(key, Bucket{burst, now, rate, burst}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + (now - b.last) * rate);
  b.last = now;
  if (b.tokens < 1.0)
    return ResourceExhausted("rate limit exceeded; retry later", "RATE_LIMITED");
  b.tokens -= 1.0;
  return OkStatus();
}

}  // namespace cloister::gateway
