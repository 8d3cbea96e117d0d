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

}  // namespace
}  // namespace cloister::gateway
