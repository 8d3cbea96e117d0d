// RateLimitFilter alone, with an injected clock: buckets per principal and
// per source, the failure budget checked before authentication, the
// counted refusal summaries, and ClientSource's normalisation.
#include "gateway/filters/rate_limit/rate_limit_filter.h"

#include <gtest/gtest.h>

namespace cloister::gateway {
namespace {

RequestContext From(const std::string& peer, const std::string& authorization = "") {
  RequestContext c;
  c.peer = peer;
  c.authorization = authorization;
  c.method = "Login";
  return c;
}

TEST(RateLimitFilterTest, BucketRefillsAndKeysAreSeparate) {
  double now = 1000;
  RateLimitPolicy p;
  p.per_principal_rps = 2;
  p.per_principal_burst = 3;
  p.anonymous_per_ip_rps = 1;
  p.anonymous_per_ip_burst = 1;
  RateLimitFilter f(p, [&] { return now; });
  RequestContext alice;
  alice.principal = services::MakeCallerForTesting({.user_id = "u-alice"});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(f.OnRequest(alice).ok());
  auto st = f.OnRequest(alice);
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_EQ(st.error().reason(), "RATE_LIMITED");
  RequestContext bob = alice;
  bob.principal = services::MakeCallerForTesting({.user_id = "u-bob"});
  EXPECT_TRUE(f.OnRequest(bob).ok());
  now += 0.5;  // one token back
  EXPECT_TRUE(f.OnRequest(alice).ok());
  EXPECT_FALSE(f.OnRequest(alice).ok());

  // Anonymous calls are charged to their source before authentication.
  RequestContext anon1 = From("ipv4:10.0.0.1:5555"), anon2 = From("ipv4:10.0.0.1:6666");
  EXPECT_TRUE(f.AdmitSource(anon1).ok());
  auto again = f.AdmitSource(anon2);  // same address, other connection
  EXPECT_EQ(again.error().reason(), "RATE_LIMITED");
  EXPECT_TRUE(f.OnRequest(anon1).ok());  // not charged twice
  EXPECT_TRUE(f.AdmitSource(From("ipv4:10.0.0.2:1")).ok());
}

// Issue 11: every failed authentication spends its source's failure
// budget; once spent, the source is refused before authentication —
// whatever it sends, with or without a credential — until it refills.
// Another source is unaffected.
TEST(RateLimitFilterTest, FailureBudgetIsCheckedBeforeAuthentication) {
  double now = 100;
  RateLimitFilter f(RateLimitPolicy{}, [&] { return now; }, FailureBudget{.rps = 1, .burst = 5});
  const RequestContext attacker = From("ipv4:10.0.0.9:5555", "Bearer forged");
  int admitted = 0, charged = 0;
  for (int i = 0; i < 300; ++i) {
    if (!f.AdmitSource(attacker).ok()) continue;
    ++admitted;
    charged += f.ChargeFailedCredential(attacker).ok() ? 1 : 0;  // the token was bad
  }
  EXPECT_EQ(admitted, 5);  // the burst, then nothing reaches authentication
  EXPECT_EQ(charged, 5);
  auto refused = f.AdmitSource(From("ipv4:10.0.0.9:7777"));  // anonymous now, same source
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_EQ(refused.error().reason(), "SOURCE_THROTTLED");
  EXPECT_TRUE(f.AdmitSource(From("ipv4:10.0.0.10:1", "Bearer x")).ok());  // another source
  now += 1.0;  // one failure's worth back
  EXPECT_TRUE(f.AdmitSource(attacker).ok());
  EXPECT_TRUE(f.ChargeFailedCredential(attacker).ok());
  EXPECT_EQ(f.ChargeFailedCredential(attacker).error().reason(), "SOURCE_THROTTLED");
}

// Refusals counted instead of audited come back as one summary per
// (source, method, reason) once their window is a second old, with the
// exact count; nothing is lost, nothing counted twice.
TEST(RateLimitFilterTest, RefusalSummariesCountExactlyPerSourceAndWindow) {
  double now = 50;
  RateLimitFilter f(RateLimitPolicy{}, [&] { return now; });
  RequestContext a = From("ipv4:10.1.1.1:1"), b = From("ipv6:[2001:db8:1:2::9]:443");
  RequestContext a_who = a;
  a_who.method = "WhoAmI";
  for (int i = 0; i < 250; ++i) f.CountRefusal(a, "SOURCE_THROTTLED");
  for (int i = 0; i < 7; ++i) f.CountRefusal(a_who, "SOURCE_THROTTLED");
  now += 0.5;
  for (int i = 0; i < 3; ++i) f.CountRefusal(b, "RATE_LIMITED");
  EXPECT_TRUE(f.TakeSummaries(false).empty());  // no window is a second old yet
  now += 0.6;
  auto due = f.TakeSummaries(false);
  ASSERT_EQ(due.size(), 2u);
  uint64_t total = 0;
  for (const auto& s : due) {
    EXPECT_EQ(s.source, "10.1.1.1");
    EXPECT_EQ(s.reason, "SOURCE_THROTTLED");
    EXPECT_EQ(s.window_ms, 1100);
    total += s.count;
    EXPECT_EQ(s.count, s.method == "Login" ? 250u : 7u) << s.method;
  }
  EXPECT_EQ(total, 257u);
  EXPECT_TRUE(f.TakeSummaries(false).empty());  // taken once
  auto rest = f.TakeSummaries(true);  // shutdown: the young window too
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].source, "2001:db8:1:2::/64");
  EXPECT_EQ(rest[0].count, 3u);
  EXPECT_EQ(rest[0].window_ms, 600);
}

TEST(RateLimitFilterTest, ClientSourceIsTheAddressWithoutPort) {
  EXPECT_EQ(ClientSource("ipv4:127.0.0.2:40000"), "127.0.0.2");
  EXPECT_EQ(ClientSource("ipv4:010.1.2.3:1"), "ipv4:010.1.2.3");  // not an address: kept, no port
  EXPECT_EQ(ClientSource("ipv6:[::1]:8443"), "::1");
  EXPECT_EQ(ClientSource("ipv6:%5B::1%5D:8443"), "::1");
  EXPECT_EQ(ClientSource("ipv6:[::ffff:192.0.2.4]:1"), "192.0.2.4");
  // One host owns a /64: every address in it is one source.
  EXPECT_EQ(ClientSource("ipv6:[2001:DB8:1:2:aaaa:bbbb:cccc:dddd]:1"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientSource("ipv6:[2001:db8:1:2::1]:2"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientSource("ipv6:[fe80::1%25eth0]:2"), "fe80::1");
  EXPECT_EQ(ClientSource("unix:/run/cloister.sock"), "unix");
}

// The limiter no longer resets everyone when it is full: idle buckets are
// evicted, a busy (throttled) one survives, and an address beyond the
// bound is refused rather than letting the attacker's budget reset.
TEST(RateLimitFilterTest, FullTableEvictsIdleBucketsAndKeepsBusyOnes) {
  RateLimitPolicy p;
  p.anonymous_per_ip_rps = 1;
  p.anonymous_per_ip_burst = 2;
  double now = 0;
  RateLimitFilter f(p, [&] { return now; });
  RequestContext busy = From("ipv4:10.9.9.9:1");
  EXPECT_TRUE(f.AdmitSource(busy).ok());
  EXPECT_TRUE(f.AdmitSource(busy).ok());
  EXPECT_FALSE(f.AdmitSource(busy).ok());  // throttled
  for (size_t i = 0; i < RateLimitFilter::kMaxBuckets + 10; ++i) {
    RequestContext c = From("ipv4:10." + std::to_string(i / 65536) + "." +
                            std::to_string((i / 256) % 256) + "." + std::to_string(i % 256) + ":1");
    (void)f.AdmitSource(c);
  }
  now += 0.1;  // the sprayed buckets spent a token: none is idle yet
  EXPECT_FALSE(f.AdmitSource(busy).ok()) << "the busy bucket was reset by address spraying";
  now += 10;  // everything refilled: idle buckets go, new addresses get one
  EXPECT_TRUE(f.AdmitSource(From("ipv4:11.0.0.1:1")).ok());
}

}  // namespace
}  // namespace cloister::gateway
