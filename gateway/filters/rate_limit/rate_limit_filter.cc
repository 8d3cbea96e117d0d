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

Status RateLimitFilter::OnRequest(RequestContext& ctx) {
  const bool anon = ctx.principal.anonymous();
  // The peer is "ipv4:1.2.3.4:port": limit per address, not per connection.
  std::string peer = ctx.peer.substr(0, ctx.peer.rfind(':'));
  const std::string key = anon ? "ip:" + peer : "u:" + ctx.principal.user_id();
  const double rate = anon ? policy_.anonymous_per_ip_rps : policy_.per_principal_rps;
  const double burst = anon ? policy_.anonymous_per_ip_burst : policy_.per_principal_burst;
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() > 100'000) buckets_.clear();  // bounded memory under address spraying
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + (now - b.last) * rate);
  b.last = now;
  if (b.tokens < 1.0)
    return ResourceExhausted("rate limit exceeded; retry later", "RATE_LIMITED");
  b.tokens -= 1.0;
  return OkStatus();
}

}  // namespace cloister::gateway
