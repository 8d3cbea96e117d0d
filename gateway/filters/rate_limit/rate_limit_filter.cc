// Token buckets per source and per principal, and the counted refusal
// summaries; see rate_limit_filter.h.
#include "gateway/filters/rate_limit/rate_limit_filter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace cloister::gateway {

namespace {

// "%5B" → "[" and the like (gRPC writes IPv6 peers URI-encoded in some
// versions).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Ipv4Text(const unsigned char* b) {
  char buf[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, b, buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

// What is left when a peer cannot be parsed: bounded, without the port.
std::string Fallback(std::string_view peer) {
  std::string_view p = peer.substr(0, 64);
  const size_t colon = p.rfind(':');
  return std::string(colon == std::string_view::npos ? p : p.substr(0, colon));
}

}  // namespace

std::string ClientSource(std::string_view peer) {
  const size_t colon = peer.find(':');
  if (colon == std::string_view::npos) return Fallback(peer);
  const std::string_view scheme = peer.substr(0, colon);
  const std::string rest = PercentDecode(peer.substr(colon + 1, 200));
  if (scheme == "ipv4") {
    const std::string host = rest.substr(0, rest.rfind(':'));
    unsigned char b[4];
    if (::inet_pton(AF_INET, host.c_str(), b) != 1) return Fallback(peer);
    return Ipv4Text(b);
  }
  if (scheme == "ipv6") {
    // "[addr%zone]:port"
    std::string host = rest;
    if (!host.empty() && host.front() == '[') {
      const size_t close = host.find(']');
      if (close == std::string::npos) return Fallback(peer);
      host = host.substr(1, close - 1);
    }
    host = host.substr(0, host.find('%'));
    unsigned char b[16];
    if (::inet_pton(AF_INET6, host.c_str(), b) != 1) return Fallback(peer);
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, sizeof kMapped) == 0) return Ipv4Text(b + 12);
    static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                    0, 0, 0, 0, 0, 0, 0, 1};
    const bool loopback = std::memcmp(b, kLoopback, sizeof kLoopback) == 0;
    const bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
    if (!loopback && !link_local) std::memset(b + 8, 0, 8);
    char buf[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, b, buf, sizeof buf) == nullptr) return Fallback(peer);
    return loopback || link_local ? std::string(buf) : std::string(buf) + "/64";
  }
  // unix:/path, unix-abstract:…: local clients, one source.
  return std::string(scheme.substr(0, 32));
}

RateLimitFilter::RateLimitFilter(RateLimitPolicy policy, Clock clock, FailureBudget failures)
    : policy_(policy), clock_(std::move(clock)), failures_(failures) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
}

Status RateLimitFilter::OnRequest(RequestContext& ctx) {
  if (ctx.principal.anonymous()) return OkStatus();  // charged to its source by AdmitSource
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  return TakeLocked("u:" + ctx.principal.user_id(), now, policy_.per_principal_rps,
                    policy_.per_principal_burst);
}

Status RateLimitFilter::AdmitSource(const RequestContext& ctx) {
  const std::string source = ClientSource(ctx.peer);
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  // Peeked, not spent: only a failure spends the failure budget.
  if (auto it = buckets_.find("fail:" + source); it != buckets_.end()) {
    const Bucket& b = it->second;
    const double tokens = std::min(b.burst, b.tokens + (now - b.last) * b.rate);
    if (tokens < 1.0) {
      const auto wait_s = static_cast<int64_t>(std::ceil((1.0 - tokens) / b.rate));
      return ResourceExhausted(
          "too many failed sign-ins or refused credentials from this address; retry in " +
              std::to_string(std::max<int64_t>(wait_s, 1)) + " s",
          rate_limit_reason::kSourceThrottled);
    }
  }
  if (!ctx.authorization.empty()) return OkStatus();
  return TakeLocked("ip:" + source, now, policy_.anonymous_per_ip_rps,
                    policy_.anonymous_per_ip_burst);
}

Status RateLimitFilter::ChargeFailedCredential(const RequestContext& ctx) {
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  Status st = TakeLocked("fail:" + ClientSource(ctx.peer), now, failures_.rps, failures_.burst);
  if (st.ok()) return st;
  return ResourceExhausted("too many failed sign-ins or refused credentials from this address",
                           rate_limit_reason::kSourceThrottled);
}

Status RateLimitFilter::TakeLocked(const std::string& key, double now, double rate, double burst) {
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
                                 rate_limit_reason::kRateLimited);
    }
    it = buckets_.emplace(key, Bucket{burst, now, rate, burst}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + (now - b.last) * rate);
  b.last = now;
  if (b.tokens < 1.0)
    return ResourceExhausted("rate limit exceeded; retry later", rate_limit_reason::kRateLimited);
  b.tokens -= 1.0;
  return OkStatus();
}

void RateLimitFilter::CountRefusal(const RequestContext& ctx, std::string_view reason) {
  RefusalSummary s{ClientSource(ctx.peer), ctx.method, std::string(reason), 0, 0};
  const double now = clock_();
  std::lock_guard<std::mutex> lock(summary_mu_);
  std::string key = s.source + '\n' + s.method + '\n' + s.reason;
  if (!pending_.count(key) && pending_.size() >= kMaxPendingSummaries) {
    // Beyond the bound every further source is counted together: the
    // count stays exact, only the names are lost.
    s.source = "*";
    s.method = "*";
    key = "*\n*\n" + s.reason;
  }
  auto [it, fresh] = pending_.try_emplace(key, Pending{std::move(s), now});
  if (fresh && (pending_.size() == 1 || now < oldest_pending_)) oldest_pending_ = now;
  ++it->second.summary.count;
}

std::vector<RefusalSummary> RateLimitFilter::TakeSummaries(bool all) {
  std::vector<RefusalSummary> out;
  const double now = clock_();
  std::lock_guard<std::mutex> lock(summary_mu_);
  // The common case (nothing due) costs one comparison.
  if (pending_.empty() || (!all && now - oldest_pending_ < kSummaryWindowS)) return out;
  double oldest = now;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (all || now - it->second.first >= kSummaryWindowS) {
      RefusalSummary s = std::move(it->second.summary);
      s.window_ms = static_cast<int64_t>(std::llround((now - it->second.first) * 1000));
      out.push_back(std::move(s));
      it = pending_.erase(it);
    } else {
      oldest = std::min(oldest, it->second.first);
      ++it;
    }
  }
  oldest_pending_ = oldest;
  return out;
}

}  // namespace cloister::gateway
