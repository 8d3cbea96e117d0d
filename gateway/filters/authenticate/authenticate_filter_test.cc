// AuthenticateFilter alone: tokens signed by a test key, revocations, API
// keys through a fake lookup.
#include "gateway/filters/authenticate/authenticate_filter.h"

#include <gtest/gtest.h>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"

namespace cloister::gateway {
namespace {

class AuthenticateFilterTest : public ::testing::Test {
 protected:
  AuthenticateFilterTest() {
    key_ = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
    cache_.identity().SetKeys({key_.public_key()});
  }
  std::string Token(const std::string& user_id, int64_t issued, int64_t expires,
                    std::string audience = auth::kTokenAudience) {
    internal::TokenBody b;
    b.set_version(auth::kTokenVersion);
    b.set_token_id(crypto::RandomId());
    b.set_user_id(user_id);
    b.set_username("alice");
    b.add_roles(api::ROLE_USER);
    b.set_audience(audience);
    b.set_issued_unix(issued);
    b.set_expires_unix(expires);
    return *auth::TokenSigner::Create(key_)->Sign(b);
  }
  std::string ApiKeyToken(const std::string& user_id, int64_t issued) {
    internal::TokenBody b;
    b.set_version(auth::kTokenVersion);
    b.set_token_id("apikey:kid");
    b.set_user_id(user_id);
    b.set_username("bot");
    b.add_roles(api::ROLE_USER);
    b.set_audience(auth::kTokenAudience);
    b.set_issued_unix(issued);
    b.set_expires_unix(issued + 300);
    if (key_scope_.read_only() || key_scope_.methods_size() > 0) *b.mutable_scope() = key_scope_;
    return *auth::TokenSigner::Create(key_)->Sign(b);
  }
  api::ApiKeyScope key_scope_;
  Status Auth(const std::string& header, RequestContext* out = nullptr) {
    RequestContext c;
    c.authorization = header;
    auto st = filter_.OnRequest(c);
    if (out) *out = c;
    return st;
  }

  int64_t now_ = 1'800'000'000;
  int lookups_ = 0;
  bool key_revoked_ = false;  // what auth says once the key is revoked
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  CredentialCache cache_;
  AuthenticateFilter filter_{&cache_,
                             [this](const std::string& k) -> Result<ApiKeyProof> {
                               ++lookups_;
                               if (k != "kid.secret" || key_revoked_)
                                 return Unauthenticated("bad key", "INVALID_API_KEY");
                               // What auth returns: a token it signed for the key's user
                               // (issued after any revocation so far, as auth does).
                               return ApiKeyProof{ApiKeyToken("u-bot", now_ + lookups_), "u-bot",
                                                  now_ + 300};
                             },
                             [this] { return now_; }};
};

TEST_F(AuthenticateFilterTest, NoHeaderIsAnonymous) {
  RequestContext c;
  EXPECT_TRUE(Auth("", &c).ok());
  EXPECT_TRUE(c.principal.anonymous());
}

TEST_F(AuthenticateFilterTest, ValidTokenGivesPrincipal) {
  RequestContext c;
  ASSERT_TRUE(Auth("Bearer " + Token("u-1", now_ - 10, now_ + 600), &c).ok());
  EXPECT_FALSE(c.principal.anonymous());
  EXPECT_EQ(c.principal.user_id(), "u-1");
  EXPECT_TRUE(c.principal.HasRole(api::ROLE_USER));
}

TEST_F(AuthenticateFilterTest, BadSignatureExpiredAudienceRefused) {
  std::string t = Token("u-1", now_ - 10, now_ + 600);
  t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Auth("Bearer " + t).code(), Code::kUnauthenticated);
  EXPECT_EQ(Auth("Bearer " + Token("u-1", now_ - 700, now_ - 100)).error().reason(), "TOKEN_EXPIRED");
  EXPECT_EQ(Auth("Bearer " + Token("u-1", now_, now_ + 60, "other")).error().reason(),
            "TOKEN_WRONG_AUDIENCE");
  // Signed by another key.
  auto other = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  internal::TokenBody b;
  b.set_version(1);
  b.set_token_id("x");
  b.set_user_id("u-1");
  b.set_audience(auth::kTokenAudience);
  b.set_issued_unix(now_);
  b.set_expires_unix(now_ + 60);
  EXPECT_EQ(Auth("Bearer " + *auth::TokenSigner::Create(other)->Sign(b)).error().reason(),
            "TOKEN_SIGNATURE_INVALID");
  EXPECT_EQ(Auth("Basic abc").error().reason(), "CREDENTIAL_MALFORMED");
}

TEST_F(AuthenticateFilterTest, RevokedTokenAndDisabledUserRefused) {
  RequestContext c;
  std::string t = Token("u-1", now_ - 10, now_ + 600);
  ASSERT_TRUE(Auth("Bearer " + t, &c).ok());
  cache_.RevokeToken(c.principal.token_id());
  EXPECT_EQ(Auth("Bearer " + t).error().reason(), "TOKEN_REVOKED");
  std::string t2 = Token("u-2", now_ - 10, now_ + 600);
  ASSERT_TRUE(Auth("Bearer " + t2).ok());
  cache_.RevokeUser("u-2", now_);
  EXPECT_EQ(Auth("Bearer " + t2).error().reason(), "TOKEN_REVOKED");
  // A token issued after the revocation point works again (re-enabled user).
  EXPECT_TRUE(Auth("Bearer " + Token("u-2", now_ + 5, now_ + 600)).ok());
}

TEST_F(AuthenticateFilterTest, ApiKeysVerifiedRemotelyThenCached) {
  RequestContext c;
  ASSERT_TRUE(Auth("ApiKey kid.secret", &c).ok());
  EXPECT_EQ(c.principal.user_id(), "u-bot");
  EXPECT_EQ(c.principal.via(), "api-key");
  EXPECT_EQ(c.auth_proof.rfind("v1.", 0), 0u);  // the proof auth signed is forwarded
  ASSERT_TRUE(Auth("ApiKey kid.secret").ok());
  EXPECT_EQ(lookups_, 1);
  EXPECT_EQ(Auth("ApiKey kid.wrong").error().reason(), "INVALID_API_KEY");
  cache_.RevokeUser("u-bot", now_);
  ASSERT_TRUE(Auth("ApiKey kid.secret").ok());
  EXPECT_EQ(lookups_, 3);  // the cached entry died with the user revocation
}

// Revoking a key revokes its proofs' token id: the cached entry fails at
// its next use (as soon as the revocation poll brought it), is dropped, and
// auth's answer for the key is what the client sees.
TEST_F(AuthenticateFilterTest, RevokedApiKeyStopsAtOnceDespiteTheCache) {
  ASSERT_TRUE(Auth("ApiKey kid.secret").ok());
  ASSERT_TRUE(Auth("ApiKey kid.secret").ok());
  EXPECT_EQ(lookups_, 1);
  key_revoked_ = true;
  cache_.RevokeToken("apikey:kid");
  auto st = Auth("ApiKey kid.secret");
  EXPECT_EQ(st.code(), Code::kUnauthenticated);
  EXPECT_EQ(st.error().reason(), "INVALID_API_KEY");
  EXPECT_EQ(lookups_, 2);
  EXPECT_FALSE(cache_.CachedApiKey(HexEncode(crypto::Sha256(AsBytes(std::string("kid.secret")))),
                                   now_)
                   .has_value());
}

TEST_F(AuthenticateFilterTest, ApiKeyScopeComesFromTheProof) {
  key_scope_.set_read_only(true);
  RequestContext c;
  ASSERT_TRUE(Auth("ApiKey kid.secret", &c).ok());
  EXPECT_TRUE(c.principal.scoped());
  EXPECT_TRUE(c.principal.scope().read_only());
}

TEST_F(AuthenticateFilterTest, NoKeysYetIsUnavailable) {
  CredentialCache empty;
  AuthenticateFilter f(&empty, nullptr);
  RequestContext c;
  c.authorization = "Bearer v1.x.y";
  EXPECT_EQ(f.OnRequest(c).error().reason(), "AUTH_UNAVAILABLE");
}

}  // namespace
}  // namespace cloister::gateway
