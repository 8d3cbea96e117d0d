// The verdict cache only ever answers for the exact bytes and roles it saw
// accepted, and never past what the full check would still accept: the
// certificate's not-after, the quote's max age, its own TTL; a nonce policy
// is never cached.
#include "attestation/peer_verdict_cache.h"

#include <ctime>

#include <gtest/gtest.h>

namespace cloister::attestation {
namespace {

struct Fixture {
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;

  crypto::Certificate Cert(int64_t not_after_s, const std::string& cn = "peer") {
    crypto::CertOptions o;
    o.common_name = cn;
    o.not_after = not_after_s;
    return *crypto::Certificate::Create(o, key.public_key(), key, nullptr);
  }
  VerifiedPeer Peer(const std::string& role) {
    VerifiedPeer p;
    p.role = role;
    p.quote_timestamp_ms = now_ms;
    return p;
  }
  VerifyPolicy Policy(int64_t max_age_ms = 600'000) {
    VerifyPolicy p;
    p.max_age_ms = max_age_ms;
    return p;
  }
};

TEST(PeerVerdictCacheTest, AnswersOnlyForTheSameBytesAndRoles) {
  Fixture f;
  PeerVerdictCache cache;
  const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 3600);
  const std::string pem = cert.Pem();
  cache.Insert(pem, {"auth"}, cert, f.Policy(), f.Peer("auth"), f.now_ms);

  auto hit = cache.Find(pem, {"auth"}, f.now_ms + 1);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->role, "auth");
  // Other roles asked for: the full check decides, not this entry.
  EXPECT_FALSE(cache.Find(pem, {"exec"}, f.now_ms + 1).has_value());
  EXPECT_FALSE(cache.Find(pem, {"auth", "exec"}, f.now_ms + 1).has_value());
  EXPECT_FALSE(cache.Find(pem, {}, f.now_ms + 1).has_value());
  // One byte changed (a forged certificate), or a different certificate.
  std::string edited = pem;
  edited[edited.size() / 2] ^= 1;
  EXPECT_FALSE(cache.Find(edited, {"auth"}, f.now_ms + 1).has_value());
  EXPECT_FALSE(cache.Find(f.Cert(f.now_ms / 1000 + 3600, "other").Pem(), {"auth"}, f.now_ms + 1)
                   .has_value());
}

TEST(PeerVerdictCacheTest, EndsWithTheTtlTheCertificateAndTheQuoteAge) {
  Fixture f;
  {
    PeerVerdictCache cache;
    const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 3600);
    cache.Insert(cert.Pem(), {"auth"}, cert, f.Policy(), f.Peer("auth"), f.now_ms);
    EXPECT_TRUE(cache.Find(cert.Pem(), {"auth"}, f.now_ms + PeerVerdictCache::kTtlMs - 1));
    EXPECT_FALSE(cache.Find(cert.Pem(), {"auth"}, f.now_ms + PeerVerdictCache::kTtlMs));
  }
  {
    // The certificate expires in 2 s: the entry does too.
    PeerVerdictCache cache;
    const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 2);
    cache.Insert(cert.Pem(), {"auth"}, cert, f.Policy(), f.Peer("auth"), f.now_ms);
    EXPECT_FALSE(cache.Find(cert.Pem(), {"auth"}, cert.not_after() * 1000));
  }
  {
    // The quote may be at most 3 s old: the entry ends when it would be older.
    PeerVerdictCache cache;
    const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 3600);
    cache.Insert(cert.Pem(), {"auth"}, cert, f.Policy(3'000), f.Peer("auth"), f.now_ms);
    EXPECT_TRUE(cache.Find(cert.Pem(), {"auth"}, f.now_ms + 2'999));
    EXPECT_FALSE(cache.Find(cert.Pem(), {"auth"}, f.now_ms + 3'000));
  }
}

TEST(PeerVerdictCacheTest, NeverCachesANoncePolicy) {
  Fixture f;
  PeerVerdictCache cache;
  const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 3600);
  VerifyPolicy policy = f.Policy();
  policy.expected_nonce = Bytes(32, 7);
  cache.Insert(cert.Pem(), {"auth"}, cert, policy, f.Peer("auth"), f.now_ms);
  EXPECT_FALSE(cache.Find(cert.Pem(), {"auth"}, f.now_ms).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(PeerVerdictCacheTest, StaysBounded) {
  Fixture f;
  PeerVerdictCache cache;
  const crypto::Certificate cert = f.Cert(f.now_ms / 1000 + 3600);
  for (size_t i = 0; i < PeerVerdictCache::kMaxEntries + 10; ++i)
    cache.Insert(cert.Pem(), {"r" + std::to_string(i)}, cert, f.Policy(), f.Peer("x"), f.now_ms);
  EXPECT_LE(cache.size(), PeerVerdictCache::kMaxEntries);
}

}  // namespace
}  // namespace cloister::attestation
