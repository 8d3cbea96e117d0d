// Rate limit: a token bucket per authenticated principal, and per client
// address for anonymous calls (Login guessing is also throttled per user by
// cloister-auth). Rejects with ResourceExhausted [RATE_LIMITED].
// Requests whose credential failed are charged to their address too
// (ChargeFailedCredential), so a flood of bad tokens or API keys is
// throttled like anonymous calls instead of being free. At most kMaxBuckets
// buckets: idle (full) ones are evicted first; if every bucket is busy, a
// new address is refused rather than everyone's limit being reset.
#pragma once

#include <chrono>
#include <map>
#include <mutex>

#include "gateway/filter.h"
#include "gateway/filters/authorize/policy.h"

namespace cloister::gateway {

class RateLimitFilter final : public Filter {
 public:
  using Clock = std::function<double()>;  // seconds; injectable for tests
  explicit RateLimitFilter(RateLimitPolicy policy, Clock clock = nullptr);
  std::string_view name() const override { return "rate_limit"; }
  Status OnRequest(RequestContext& ctx) override;
  // After the authenticate filter refused ctx's credential.
  Status ChargeFailedCredential(const RequestContext& ctx);

  static constexpr size_t kMaxBuckets = 100'000;

 private:
  struct Bucket {
    double tokens;
    double last;
    double rate, burst;
  };
  Status Take(const std::string& key, double rate, double burst);
  RateLimitPolicy policy_;
  Clock clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace cloister::gateway
