// Rate limit and per-source throttle (issue 11). Token buckets keyed by the
// client's source (ClientSource: an IPv4 address or an IPv6 /64, never the
// port) before authentication, and by the authenticated principal after it.
//
//   before authentication (AdmitSource): a source that has spent its
//     failure budget is refused ResourceExhausted [SOURCE_THROTTLED]
//     whatever it sends, so a flood of bad tokens, API keys or passwords
//     costs no credential check, no call to auth and no audit entry of its
//     own; a request without a credential also spends the source's
//     anonymous bucket (ResourceExhausted [RATE_LIMITED]).
//   after authentication (OnRequest): a signed-in principal's bucket
//     (ResourceExhausted [RATE_LIMITED]).
//   failures (ChargeFailedCredential): each refused credential and each
//     credential a backend refused (a wrong password: cloister-auth's
//     UNAUTHENTICATED or LOGIN_THROTTLED) spends one token of the source's
//     failure budget (FailureBudget: a burst, then a steady rate).
// Refusals made before authentication are not audited one by one: the
// gateway counts them here (CountRefusal) and audits one summary entry per
// (source, method, reason) and window of at least kSummaryWindowS, naming
// the source, the count and the window (TakeSummaries).
// At most kMaxBuckets buckets: idle (full) ones are evicted first; if every
// bucket is busy, a new source is refused rather than everyone's limit
// being reset.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/filter.h"
#include "gateway/filters/authorize/policy.h"

namespace cloister::gateway {

namespace rate_limit_reason {
inline constexpr const char* kRateLimited = "RATE_LIMITED";
inline constexpr const char* kSourceThrottled = "SOURCE_THROTTLED";
}  // namespace rate_limit_reason

// The client's source from a gRPC peer string: "ipv4:10.1.2.3:5555" →
// "10.1.2.3"; "ipv6:[2001:db8:1:2:a:b:c:d]:5555" (or %5B…%5D) →
// "2001:db8:1:2::/64", because one host is routinely given a whole /64 and
// could otherwise rotate addresses to escape any per-address limit;
// loopback and link-local IPv6 addresses are kept whole, and an
// IPv4-mapped IPv6 address is its IPv4 address. Other peers (unix sockets)
// are their scheme ("unix"): one local source. What the gateway signs into
// AccessGrant.client_source.
std::string ClientSource(std::string_view peer);

// One summary of refusals made before authentication.
struct RefusalSummary {
  std::string source;  // ClientSource, or "*" for sources beyond the table's bound
  std::string method;  // public method name, or "*"
  std::string reason;  // the refusal's reason
  uint64_t count = 0;
  int64_t window_ms = 0;  // from the first counted refusal to the summary
};

// How many failed authentications a source may cause: `burst` at once,
// then `rps`. Tighter than the anonymous rate: every failure that gets
// through may cost cloister-auth a password hash.
struct FailureBudget {
  double rps = 1;
  double burst = 20;
};

class RateLimitFilter final : public Filter {
 public:
  using Clock = std::function<double()>;  // seconds; injectable for tests
  explicit RateLimitFilter(RateLimitPolicy policy, Clock clock = nullptr,
                           FailureBudget failures = {});
  std::string_view name() const override { return "rate_limit"; }
  // After authentication: the principal's bucket. Anonymous calls pass
  // here: AdmitSource charged them to their source already.
  Status OnRequest(RequestContext& ctx) override;
  // Before authentication (ctx.peer and ctx.authorization set).
  Status AdmitSource(const RequestContext& ctx);
  // One failed authentication by ctx's source: spends its failure budget;
  // ResourceExhausted [SOURCE_THROTTLED] when it was already spent.
  Status ChargeFailedCredential(const RequestContext& ctx);
  // A refusal of ctx that is to be audited only in a summary.
  void CountRefusal(const RequestContext& ctx, std::string_view reason);
  // The summaries whose window is at least kSummaryWindowS old (`all`:
  // every pending one, at shutdown); each is forgotten once taken.
  std::vector<RefusalSummary> TakeSummaries(bool all);

  static constexpr size_t kMaxBuckets = 100'000;
  static constexpr size_t kMaxPendingSummaries = 10'000;
  static constexpr double kSummaryWindowS = 1.0;

 private:
  struct Bucket {
    double tokens;
    double last;
    double rate, burst;
  };
  struct Pending {
    RefusalSummary summary;
    double first = 0;
  };
  // mu_ held.
  Status TakeLocked(const std::string& key, double now, double rate, double burst);
  RateLimitPolicy policy_;
  Clock clock_;
  FailureBudget failures_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
  std::mutex summary_mu_;
  std::map<std::string, Pending> pending_;  // guarded by summary_mu_
  double oldest_pending_ = 0;               // guarded by summary_mu_; valid if !pending_.empty()
};

}  // namespace cloister::gateway
