// RateLimitFilter alone, with an injected clock.
#include "gateway/filters/rate_limit/rate_limit_filter.h"

#include <gtest/gtest.h>

namespace cloister::gateway {
namespace {

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

  RequestContext anon1, anon2;
  anon1.peer = "ipv4:10.0.0.1:5555";
  anon2.peer = "ipv4:10.0.0.1:6666";  // same address, other connection
  EXPECT_TRUE(f.OnRequest(anon1).ok());
  EXPECT_FALSE(f.OnRequest(anon2).ok());
}

// Issue 11: bad credentials are not free — each costs its address a
// token, so a flood of bad tokens from one address is throttled.
TEST(RateLimitFilterTest, FailedCredentialsAreChargedPerAddress) {
  RateLimitPolicy p;
  p.anonymous_per_ip_rps = 1;
  p.anonymous_per_ip_burst = 5;
  double now = 100;
  RateLimitFilter f(p, [&] { return now; });
  RequestContext attacker;
  attacker.peer = "ipv4:10.0.0.9:5555";
  int refused = 0;
  for (int i = 0; i < 300; ++i) refused += f.ChargeFailedCredential(attacker).ok() ? 0 : 1;
  EXPECT_EQ(refused, 295);  // the burst, then nothing
  RequestContext other;
  other.peer = "ipv4:10.0.0.10:1";
  EXPECT_TRUE(f.ChargeFailedCredential(other).ok());  // another address is unaffected
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
  RequestContext busy;
  busy.peer = "ipv4:10.9.9.9:1";
  EXPECT_TRUE(f.OnRequest(busy).ok());
  EXPECT_TRUE(f.OnRequest(busy).ok());
  EXPECT_FALSE(f.OnRequest(busy).ok());  // throttled
  for (size_t i = 0; i < RateLimitFilter::kMaxBuckets + 10; ++i) {
    RequestContext c;
    c.peer = "ipv4:10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
             std::to_string(i % 256) + ":1";
    (void)f.OnRequest(c);
  }
  now += 0.1;  // the sprayed buckets spent a token: none is idle yet
  EXPECT_FALSE(f.OnRequest(busy).ok()) << "the busy bucket was reset by address spraying";
  now += 10;  // everything refilled: idle buckets go, new addresses get one
  RequestContext late;
  late.peer = "ipv4:11.0.0.1:1";
  EXPECT_TRUE(f.OnRequest(late).ok());
}

}  // namespace
}  // namespace cloister::gateway
