// Rate limit: a token bucket per authenticated principal, and per client
// address for anonymous calls (Login guessing is also throttled per user by
// cloister-auth). Rejects with ResourceExhausted [RATE_LIMITED].
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

 private:
  struct Bucket {
    double tokens;
    double last;
  };
  RateLimitPolicy policy_;
  Clock clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace cloister::gateway
