// Unit tests of cloister-auth's logic without gRPC: password hashing, the
// token format, and AuthCore (sessions, throttling, revocation, refresh
// single use, API keys, admin checks, input validation, durability).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "attestation/sealer.h"
#include "common/crypto/aead.h"
#include "common/crypto/random.h"
#include "services/auth/auth_core.h"
#include "services/common/grant_verifier.h"
#include "services/auth/password.h"
#include "services/auth/token.h"

namespace cloister::auth {
namespace {

// ---- password ----

PasswordPolicy FastScrypt() {
  PasswordPolicy p;
  p.scrypt_log2_n = 10;  // tests only: the default is 15
  return p;
}

TEST(PasswordTest, HashVerifies) {
  PasswordHasher h(FastScrypt());
  auto stored = h.Hash("correct horse battery");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->starts_with("$scrypt$ln=10,r=8,p=1$"));
  EXPECT_TRUE(*h.Verify("correct horse battery", *stored));
  EXPECT_FALSE(*h.Verify("correct horse batterY", *stored));
  // Fresh salt every time.
  EXPECT_NE(*stored, *h.Hash("correct horse battery"));
}

TEST(PasswordTest, Pbkdf2Verifies) {
  PasswordPolicy p;
  p.algorithm = PasswordPolicy::Algorithm::kPbkdf2Sha512;
  p.pbkdf2_iterations = 1000;
  PasswordHasher h(p);
  auto stored = *h.Hash("correct horse battery");
  EXPECT_TRUE(stored.starts_with("$pbkdf2-sha512$i=1000$"));
  EXPECT_TRUE(*h.Verify("correct horse battery", stored));
  EXPECT_FALSE(*h.Verify("wrong", stored));
  // The scrypt hasher still verifies a PBKDF2 hash (parameters are stored).
  PasswordHasher s(FastScrypt());
  EXPECT_TRUE(*s.Verify("correct horse battery", stored));
  EXPECT_TRUE(s.NeedsRehash(stored));
}

TEST(PasswordTest, DefaultsMeetPolicy) {
  PasswordPolicy p;
  EXPECT_EQ(p.Describe(), "scrypt N=2^15 r=8 p=1");
  EXPECT_GE(p.pbkdf2_iterations, 210'000u);
}

TEST(PasswordTest, NeedsRehashWhenParametersRise) {
  PasswordHasher weak(FastScrypt());
  PasswordPolicy stronger = FastScrypt();
  stronger.scrypt_log2_n = 11;
  PasswordHasher strong(stronger);
  auto stored = *weak.Hash("correct horse battery");
  EXPECT_FALSE(weak.NeedsRehash(stored));
  EXPECT_TRUE(strong.NeedsRehash(stored));
}

TEST(PasswordTest, MalformedStoredHashIsDataLoss) {
  PasswordHasher h(FastScrypt());
  for (std::string bad : {"", "$scrypt$", "$scrypt$ln=10,r=8,p=1$AAAA$AAAA",
                          "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",
                          "$md5$x$y$z", "$pbkdf2-sha512$i=-1$AAAA$AAAA",
                          "$pbkdf2-sha512$i=99999999999$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA=="}) {
    auto r = h.Verify("x", bad);
    EXPECT_EQ(r.code(), Code::kDataLoss) << bad;
  }
}

// ---- token ----

internal::TokenBody Body(int64_t now) {
  internal::TokenBody b;
  b.set_version(1);
  b.set_token_id("t1");
  b.set_user_id("u-1");
  b.set_username("alice");
  b.add_roles(api::ROLE_USER);
  b.set_audience(kTokenAudience);
  b.set_issued_unix(now);
  b.set_expires_unix(now + 900);
  return b;
}

class TokenTest : public ::testing::Test {
 protected:
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  TokenSigner signer_ = *TokenSigner::Create(key_);
  TokenVerifier verifier_{{key_.public_key()}};
  int64_t now_ = 1'800'000'000;
};

TEST_F(TokenTest, RoundTrip) {
  std::string t = *signer_.Sign(Body(now_));
  EXPECT_TRUE(t.starts_with("v1."));
  auto b = verifier_.Verify(t, now_ + 10);
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->username(), "alice");
  EXPECT_EQ(b->token_id(), "t1");
}

TEST_F(TokenTest, TamperedIsRefused) {
  std::string t = *signer_.Sign(Body(now_));
  for (size_t i : {size_t{4}, t.size() / 2, t.size() - 2}) {
    std::string bad = t;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    auto r = verifier_.Verify(bad, now_);
    EXPECT_EQ(r.code(), Code::kUnauthenticated) << i;
  }
  // Changing the version prefix breaks the signature too.
  std::string v2 = "v2" + t.substr(2);
  EXPECT_EQ(verifier_.Verify(v2, now_).error().reason(), token_reason::kMalformed);
}

TEST_F(TokenTest, OtherKeyIsRefused) {
  auto other = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  std::string t = *(*TokenSigner::Create(other)).Sign(Body(now_));
  EXPECT_EQ(verifier_.Verify(t, now_).error().reason(), token_reason::kSignature);
  // A verifier that knows both (rotation) accepts it.
  TokenVerifier both({key_.public_key(), other.public_key()});
  EXPECT_TRUE(both.Verify(t, now_).ok());
}

TEST_F(TokenTest, WrongAudienceExpiredFutureAreRefused) {
  auto b = Body(now_);
  b.set_audience("someone-else");
  EXPECT_EQ(verifier_.Verify(*signer_.Sign(b), now_).error().reason(), token_reason::kAudience);
  std::string t = *signer_.Sign(Body(now_));
  EXPECT_EQ(verifier_.Verify(t, now_ + 900).error().reason(), token_reason::kExpired);
  EXPECT_EQ(verifier_.Verify(t, now_ - 3600).error().reason(), token_reason::kNotYetValid);
  EXPECT_EQ(verifier_.Verify(t, now_, "other-audience").error().reason(), token_reason::kAudience);
}

TEST_F(TokenTest, MalformedInputsAreRefused) {
  for (const std::string& bad : std::vector<std::string>{"", "v1.", "v1..", "v1.abc", "garbage", "v1.AAAA.AAAA",
                          "v1.AA==.AA==", std::string(5000, 'v')}) {
    auto r = verifier_.Verify(bad, now_);
    EXPECT_EQ(r.code(), Code::kUnauthenticated) << bad.substr(0, 20);
  }
}

TEST(Base64UrlTest, RoundTripAndStrictness) {
  for (size_t n = 0; n < 40; ++n) {
    Bytes b = crypto::RandomBytes(n);
    std::string e = Base64UrlEncode(b);
    EXPECT_EQ(e.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(*Base64UrlDecode(e), b);
  }
  EXPECT_FALSE(Base64UrlDecode("AB=").ok());
  EXPECT_FALSE(Base64UrlDecode("A").ok());
  EXPECT_FALSE(Base64UrlDecode("AB+/").ok());
  EXPECT_FALSE(Base64UrlDecode("AF").ok());  // non-zero trailing bits
}

// ---- AuthCore ----

using TestSealer = attestation::AeadSealer;

constexpr char kAdminPw[] = "admin password 123";
constexpr char kAlicePw[] = "alice password 123";

class AuthCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path() / "cloister-auth-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Reopen();
    ASSERT_TRUE(*core_->BootstrapAdmin(kAdminPw));
    admin_ = CallerFor("admin", "");
    auto alice = core_->CreateUser(admin_, MakeUser("alice", kAlicePw));
    ASSERT_TRUE(alice.ok()) << alice.error().ToString();
    alice_ = CallerFor("alice", "");
  }
  void TearDown() override {
    core_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen() {
    core_.reset();
    auto store = AuthStore::Open("sqlite://" + dir_ + "/auth.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    AuthOptions o;
    o.password = FastScrypt();
    o.now_ms = [this] { return now_ms_.load(); };
    auto core = AuthCore::Create(*std::move(store), sealer_, o);
    ASSERT_TRUE(core.ok()) << core.error().ToString();
    core_ = *std::move(core);
  }

  static api::CreateUserRequest MakeUser(std::string name, std::string pw,
                                         std::vector<api::Role> roles = {}) {
    api::CreateUserRequest r;
    r.set_username(name);
    r.set_password(pw);
    for (auto role : roles) r.add_roles(role);
    return r;
  }

  Caller CallerFor(const std::string& name, const std::string& token_id) {
    auto users = *core_->store().ListUsers(core_->store().db());
    for (const auto& u : users)
      if (u.username == name)
        return services::MakeCallerForTesting({.user_id = u.user_id,
                                               .admin = (u.roles & kRoleAdminBit) != 0,
                                               .username = u.username,
                                               .token_id = token_id});
    ADD_FAILURE() << "no user " << name;
    return {};
  }

  internal::TokenBody Verify(const std::string& token) {
    auto b = core_->MakeVerifier().Verify(token, now_ms_ / 1000);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().ToString());
    return b.ok() ? *b : internal::TokenBody();
  }

  void Advance(int64_t ms) { now_ms_ += ms; }

  std::string dir_;
  std::atomic<int64_t> now_ms_{1'800'000'000'000};
  std::shared_ptr<TestSealer> sealer_ = std::make_shared<TestSealer>();
  std::unique_ptr<AuthCore> core_;
  Caller admin_, alice_;
};

TEST_F(AuthCoreTest, LoginIssuesVerifiableToken) {
  auto r = core_->Login("alice", kAlicePw);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto body = Verify(r->token());
  EXPECT_EQ(body.username(), "alice");
  EXPECT_EQ(body.user_id(), alice_.user_id());
  EXPECT_EQ(body.audience(), kTokenAudience);
  EXPECT_EQ(body.expires_unix() - body.issued_unix(), 900);
  EXPECT_EQ(r->expires_unix(), body.expires_unix());
  ASSERT_EQ(body.roles_size(), 1);
  EXPECT_EQ(body.roles(0), api::ROLE_USER);
  EXPECT_FALSE(r->refresh_token().empty());
  EXPECT_EQ(r->user().username(), "alice");
  // The token keys the gateway fetches verify it too.
  auto keys = core_->TokenKeys();
  ASSERT_EQ(keys.ed25519_spki_size(), 1);
  auto pub = *crypto::PublicKey::FromSpkiDer(AsBytes(keys.ed25519_spki(0)));
  EXPECT_TRUE(TokenVerifier({pub}).Verify(r->token(), now_ms_ / 1000).ok());
}

TEST_F(AuthCoreTest, AdminTokenCarriesAdminRole) {
  auto body = Verify(core_->Login("admin", kAdminPw)->token());
  bool admin = false;
  for (int r : body.roles()) admin |= r == api::ROLE_ADMIN;
  EXPECT_TRUE(admin);
}

TEST_F(AuthCoreTest, WrongPasswordAndUnknownUserLookTheSame) {
  auto wrong = core_->Login("alice", "not the password");
  auto unknown = core_->Login("mallory", "not the password");
  EXPECT_EQ(wrong.code(), Code::kUnauthenticated);
  EXPECT_EQ(unknown.code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.error().reason(), auth_reason::kInvalidCredentials);
  EXPECT_EQ(unknown.error().reason(), auth_reason::kInvalidCredentials);
  EXPECT_EQ(wrong.error().message(), unknown.error().message());
}

TEST(ThrottlePolicyTest, DoublesFromOneSecondToFifteenMinutes) {
  AuthOptions o;
  EXPECT_EQ(ThrottleLockMs(o, 4), 0);
  EXPECT_EQ(ThrottleLockMs(o, 5), 1000);
  EXPECT_EQ(ThrottleLockMs(o, 6), 2000);
  EXPECT_EQ(ThrottleLockMs(o, 10), 32000);
  EXPECT_EQ(ThrottleLockMs(o, 15), 900000);
  EXPECT_EQ(ThrottleLockMs(o, 1000), 900000);
}

TEST_F(AuthCoreTest, ThrottlesAfterFiveFailures) {
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong").error().reason(),
              auth_reason::kInvalidCredentials);
  // Locked for 1 s now, even with the right password.
  auto locked = core_->Login("alice", kAlicePw);
  EXPECT_EQ(locked.code(), Code::kResourceExhausted);
  EXPECT_EQ(locked.error().reason(), auth_reason::kThrottled);
  Advance(1001);
  EXPECT_EQ(core_->Login("alice", "wrong wrong wrong").error().reason(),
            auth_reason::kInvalidCredentials);
  Advance(1500);  // the 6th failure locked for 2 s
  EXPECT_EQ(core_->Login("alice", kAlicePw).error().reason(), auth_reason::kThrottled);
  Advance(600);
  EXPECT_TRUE(core_->Login("alice", kAlicePw).ok());
  // Success resets the counter.
  EXPECT_EQ(core_->Login("alice", "wrong wrong wrong").error().reason(),
            auth_reason::kInvalidCredentials);
  EXPECT_TRUE(core_->Login("alice", kAlicePw).ok());
}

TEST_F(AuthCoreTest, UnknownUsersAreThrottledToo) {
  for (int i = 0; i < 5; ++i) (void)core_->Login("ghost", "wrong wrong wrong");
  EXPECT_EQ(core_->Login("ghost", "wrong wrong wrong").error().reason(), auth_reason::kThrottled);
}

TEST_F(AuthCoreTest, ThrottleSurvivesRestart) {
  for (int i = 0; i < 5; ++i) (void)core_->Login("alice", "wrong wrong wrong");
  Reopen();
  EXPECT_EQ(core_->Login("alice", kAlicePw).error().reason(), auth_reason::kThrottled);
}

// Issue 11: failures count per (username, client source). A stranger's
// flood from one source locks only (admin, that source): the admin from
// another source, and another user from the stranger's source, sign in.
TEST_F(AuthCoreTest, ThrottleIsPerUsernameAndSource) {
  constexpr std::string_view kStranger = "203.0.113.7";
  constexpr std::string_view kAdminDesk = "198.51.100.2";
  int throttled = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = core_->Login("admin", "wrong wrong wrong", kStranger);
    ASSERT_FALSE(r.ok());
    throttled += r.error().reason() == auth_reason::kThrottled ? 1 : 0;
  }
  EXPECT_EQ(throttled, 35);  // 5 free failures, then the pair is locked
  EXPECT_EQ(core_->Login("admin", kAdminPw, kStranger).error().reason(), auth_reason::kThrottled);
  auto admin = core_->Login("admin", kAdminPw, kAdminDesk);
  ASSERT_TRUE(admin.ok()) << admin.error().ToString();
  EXPECT_TRUE(core_->Login("admin", kAdminPw).ok());  // no public source: a pair of its own
  EXPECT_TRUE(core_->Login("alice", kAlicePw, kStranger).ok());
}

// Each pair backs off on its own: 5 free failures, then 1 s, 2 s, 4 s …;
// another pair of the same user starts from nothing.
TEST_F(AuthCoreTest, PerSourceBackoffDoublesPerPair) {
  constexpr std::string_view kX = "192.0.2.10", kY = "192.0.2.11";
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kX).error().reason(),
              auth_reason::kInvalidCredentials);
  EXPECT_EQ(core_->Login("alice", kAlicePw, kX).error().reason(), auth_reason::kThrottled);
  for (int64_t lock_ms : {1000, 2000, 4000, 8000}) {
    Advance(lock_ms - 100);
    EXPECT_EQ(core_->Login("alice", kAlicePw, kX).error().reason(), auth_reason::kThrottled)
        << lock_ms;
    Advance(101);
    // The lock is over: the next failure doubles it.
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kX).error().reason(),
              auth_reason::kInvalidCredentials)
        << lock_ms;
  }
  // (alice, Y) never failed: four failures in a row are still free.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kY).error().reason(),
              auth_reason::kInvalidCredentials);
  EXPECT_TRUE(core_->Login("alice", kAlicePw, kY).ok());
}

// A success clears its own pair only, and a locked pair's refusals write
// nothing (they neither extend the lock nor cost a transaction).
TEST_F(AuthCoreTest, SuccessClearsOnlyItsPairAndLockedAttemptsRecordNothing) {
  constexpr std::string_view kX = "192.0.2.20", kY = "2001:db8:7:7::/64";
  for (int i = 0; i < 5; ++i) {
    (void)core_->Login("alice", "wrong wrong wrong", kX);
    (void)core_->Login("alice", "wrong wrong wrong", kY);
  }
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kX).error().reason(),
              auth_reason::kThrottled);
  auto x = *core_->store().GetThrottle(core_->store().db(), "alice", kX);
  EXPECT_EQ(x.failures, 5);
  Advance(1001);
  ASSERT_TRUE(core_->Login("alice", kAlicePw, kX).ok());
  EXPECT_EQ(core_->store().GetThrottle(core_->store().db(), "alice", kX)->failures, 0);
  EXPECT_EQ(core_->store().GetThrottle(core_->store().db(), "alice", kY)->failures, 5);
  // (alice, X) starts again from four free failures …
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kX).error().reason(),
              auth_reason::kInvalidCredentials);
  // … while (alice, Y) goes on doubling: its 6th failure locks it for 2 s.
  EXPECT_EQ(core_->Login("alice", "wrong wrong wrong", kY).error().reason(),
            auth_reason::kInvalidCredentials);
  Advance(1500);
  EXPECT_EQ(core_->Login("alice", kAlicePw, kY).error().reason(), auth_reason::kThrottled);
  EXPECT_TRUE(core_->Login("alice", kAlicePw, kX).ok());
}

// A password change (here by the admin) clears every pair of the user.
TEST_F(AuthCoreTest, PasswordChangeClearsEveryPairOfTheUser) {
  for (std::string_view src : {"192.0.2.30", "192.0.2.31"})
    for (int i = 0; i < 6; ++i) (void)core_->Login("alice", "wrong wrong wrong", src);
  api::ChangePasswordRequest req;
  req.set_username("alice");
  req.set_new_password("a brand new password");
  ASSERT_TRUE(core_->ChangePassword(admin_, req).ok());
  for (std::string_view src : {"192.0.2.30", "192.0.2.31"})
    EXPECT_TRUE(core_->Login("alice", "a brand new password", src).ok()) << src;
}

TEST_F(AuthCoreTest, RefreshTokenIsSingleUseAndRotates) {
  auto login = *core_->Login("alice", kAlicePw);
  auto r1 = core_->Refresh(login.refresh_token());
  ASSERT_TRUE(r1.ok()) << r1.error().ToString();
  EXPECT_NE(r1->refresh_token(), login.refresh_token());
  EXPECT_EQ(Verify(r1->token()).user_id(), alice_.user_id());
  // Reuse of the first refresh token: refused, and the whole session dies.
  auto reuse = core_->Refresh(login.refresh_token());
  EXPECT_EQ(reuse.error().reason(), auth_reason::kRefreshReused);
  EXPECT_EQ(core_->Refresh(r1->refresh_token()).error().reason(), auth_reason::kInvalidRefresh);
  auto revs = *core_->Revocations(0);
  std::set<std::string> revoked;
  for (const auto& r : revs.revocations()) revoked.insert(r.token_id());
  EXPECT_TRUE(revoked.count(Verify(login.token()).token_id()));
  EXPECT_TRUE(revoked.count(Verify(r1->token()).token_id()));
}

TEST_F(AuthCoreTest, RefreshTokenExpires) {
  auto login = *core_->Login("alice", kAlicePw);
  Advance(24LL * 3600 * 1000 + 1000);
  EXPECT_EQ(core_->Refresh(login.refresh_token()).error().reason(), auth_reason::kInvalidRefresh);
}

TEST_F(AuthCoreTest, BadRefreshTokensAreRefused) {
  EXPECT_EQ(core_->Refresh("").code(), Code::kInvalidArgument);
  EXPECT_EQ(core_->Refresh(std::string(500, 'a')).code(), Code::kInvalidArgument);
  EXPECT_EQ(core_->Refresh("rt1.nope").error().reason(), auth_reason::kInvalidRefresh);
}

TEST_F(AuthCoreTest, LogoutRevokesTokenAndItsRefreshToken) {
  auto login = *core_->Login("alice", kAlicePw);
  std::string token_id = Verify(login.token()).token_id();
  ASSERT_TRUE(core_->Logout(CallerFor("alice", token_id)).ok());
  auto revs = *core_->Revocations(0);
  ASSERT_EQ(revs.revocations_size(), 1);
  EXPECT_EQ(revs.revocations(0).token_id(), token_id);
  EXPECT_EQ(core_->Refresh(login.refresh_token()).error().reason(), auth_reason::kInvalidRefresh);
  // Revocations(since) only returns newer ones.
  Advance(5000);
  EXPECT_EQ(core_->Revocations(revs.now_unix_ms() + 2001)->revocations_size(), 0);
  EXPECT_EQ(core_->Logout(CallerFor("alice", "")).code(), Code::kFailedPrecondition);
}

TEST_F(AuthCoreTest, DisableUserRevokesEverythingAndBlocksLogin) {
  auto login = *core_->Login("alice", kAlicePw);
  api::DisableUserRequest req;
  req.set_username("alice");
  req.set_disabled(true);
  auto r = core_->DisableUser(admin_, req);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->user().disabled());
  auto revs = *core_->Revocations(0);
  ASSERT_EQ(revs.revocations_size(), 1);
  EXPECT_EQ(revs.revocations(0).user_id(), alice_.user_id());
  EXPECT_GT(revs.revocations(0).before_unix(), Verify(login.token()).issued_unix());
  EXPECT_EQ(core_->Refresh(login.refresh_token()).code(), Code::kUnauthenticated);
  EXPECT_EQ(core_->Login("alice", kAlicePw).error().reason(), auth_reason::kUserDisabled);
  // A wrong password for a disabled user still says only "invalid".
  EXPECT_EQ(core_->Login("alice", "wrong wrong wrong").error().reason(),
            auth_reason::kInvalidCredentials);
  req.set_disabled(false);
  ASSERT_TRUE(core_->DisableUser(admin_, req).ok());
  auto again = core_->Login("alice", kAlicePw);
  ASSERT_TRUE(again.ok());
  // The new token is not covered by the earlier user-wide revocation.
  EXPECT_GE(Verify(again->token()).issued_unix(), revs.revocations(0).before_unix());
}

TEST_F(AuthCoreTest, ChangePasswordRules) {
  api::ChangePasswordRequest self;
  self.set_new_password("a brand new password");
  EXPECT_EQ(core_->ChangePassword(alice_, self).code(), Code::kInvalidArgument);  // old missing
  self.set_old_password("wrong wrong wrong");
  EXPECT_EQ(core_->ChangePassword(alice_, self).error().reason(), auth_reason::kInvalidCredentials);
  self.set_old_password(kAlicePw);
  ASSERT_TRUE(core_->ChangePassword(alice_, self).ok());
  EXPECT_EQ(core_->Login("alice", kAlicePw).code(), Code::kUnauthenticated);
  EXPECT_TRUE(core_->Login("alice", "a brand new password").ok());
  EXPECT_EQ(core_->Revocations(0)->revocations_size(), 1);  // user-wide

  // Another user's password: admin only, no old password needed.
  api::ChangePasswordRequest other;
  other.set_username("admin");
  other.set_new_password("alice owns admin now");
  EXPECT_EQ(core_->ChangePassword(alice_, other).error().reason(), auth_reason::kAdminRequired);
  other.set_username("alice");
  other.set_new_password("reset by the admin!");
  ASSERT_TRUE(core_->ChangePassword(admin_, other).ok());
  EXPECT_TRUE(core_->Login("alice", "reset by the admin!").ok());
  other.set_new_password("short");
  EXPECT_EQ(core_->ChangePassword(admin_, other).code(), Code::kInvalidArgument);
}

// "CreateUser needs an admin" is written once, as the RPC's rule in
// proto/auth.proto; every service's grant verifier enforces the method
// table's rule (CheckMethodRoles) before any core code runs, and the
// gateway's default policy is built from the same table. The core holds
// only resource rules (e.g. whose password one may change).
TEST_F(AuthCoreTest, AdminOnlyMethodsRefuseUsersByTheMethodTableRule) {
  for (const char* m : {"CreateUser", "ListUsers", "DisableUser", "DeleteUser"}) {
    const rpc::MethodEntry* e = rpc::MethodTable::Get().FindPublic(m);
    ASSERT_NE(e, nullptr) << m;
    auto st = services::CheckMethodRoles(*e, alice_);
    ASSERT_FALSE(st.ok()) << m;
    EXPECT_EQ(st.error().reason(), services::grant_reason::kRole) << m;
    EXPECT_TRUE(services::CheckMethodRoles(*e, admin_).ok()) << m;
  }
  EXPECT_TRUE(services::CheckMethodRoles(*rpc::MethodTable::Get().FindPublic("WhoAmI"), alice_).ok());
  EXPECT_FALSE(services::CheckMethodRoles(*rpc::MethodTable::Get().FindPublic("WhoAmI"),
                                          services::Caller::Anonymous())
                   .ok());
  auto list = core_->ListUsers(admin_);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->users_size(), 2);
}

TEST_F(AuthCoreTest, LastAdminCannotBeDisabledOrDeleted) {
  api::DisableUserRequest d;
  d.set_username("admin");
  d.set_disabled(true);
  EXPECT_EQ(core_->DisableUser(admin_, d).error().reason(), auth_reason::kLastAdmin);
  EXPECT_EQ(core_->DeleteUser(admin_, "admin").error().reason(), auth_reason::kLastAdmin);
  ASSERT_TRUE(core_->CreateUser(admin_, MakeUser("root2", kAdminPw, {api::ROLE_ADMIN})).ok());
  EXPECT_TRUE(core_->DeleteUser(admin_, "admin").ok());
}

TEST_F(AuthCoreTest, DeleteUserRevokesAndForgets) {
  auto login = *core_->Login("alice", kAlicePw);
  ASSERT_TRUE(core_->DeleteUser(admin_, "alice").ok());
  EXPECT_EQ(core_->Login("alice", kAlicePw).code(), Code::kUnauthenticated);
  EXPECT_EQ(core_->Refresh(login.refresh_token()).code(), Code::kUnauthenticated);
  auto revs = *core_->Revocations(0);
  ASSERT_EQ(revs.revocations_size(), 1);
  EXPECT_EQ(revs.revocations(0).user_id(), alice_.user_id());
  EXPECT_EQ(core_->DeleteUser(admin_, "alice").code(), Code::kNotFound);
}

TEST_F(AuthCoreTest, LookupUsersMapsNamesToIdsAndShowsNothingElse) {
  api::LookupUsersRequest req;
  req.add_usernames("alice");
  req.add_usernames("admin");
  auto r = core_->LookupUsers(req);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->users_size(), 2);
  EXPECT_EQ(r->users(0).user_id(), alice_.user_id());  // request order
  EXPECT_EQ(r->users(0).username(), "alice");
  EXPECT_EQ(r->users(1).username(), "admin");

  req.add_usernames("nobody");
  auto unknown = core_->LookupUsers(req);
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_EQ(unknown.error().reason(), auth_reason::kUserNotFound);
  EXPECT_NE(unknown.error().message().find("nobody"), std::string::npos);

  // A disabled user is not offered as a slot owner.
  api::DisableUserRequest off;
  off.set_username("alice");
  off.set_disabled(true);
  ASSERT_TRUE(core_->DisableUser(admin_, off).ok());
  api::LookupUsersRequest one;
  one.add_usernames("alice");
  EXPECT_EQ(core_->LookupUsers(one).code(), Code::kNotFound);

  api::LookupUsersRequest none;
  EXPECT_EQ(core_->LookupUsers(none).error().reason(), auth_reason::kLookupInvalid);
  api::LookupUsersRequest many;
  for (int i = 0; i < 65; ++i) many.add_usernames("alice");
  EXPECT_EQ(core_->LookupUsers(many).error().reason(), auth_reason::kLookupInvalid);
  api::LookupUsersRequest bad;
  bad.add_usernames("no spaces allowed");
  auto b = core_->LookupUsers(bad);
  EXPECT_EQ(b.code(), Code::kInvalidArgument);
  EXPECT_NE(b.error().message().find("usernames"), std::string::npos);
}

TEST_F(AuthCoreTest, DuplicateUserIsAlreadyExists) {
  auto r = core_->CreateUser(admin_, MakeUser("alice", kAlicePw));
  EXPECT_EQ(r.code(), Code::kAlreadyExists);
}

TEST_F(AuthCoreTest, BadInputIsInvalidArgumentNamingTheField) {
  auto expect_invalid = [](const auto& r, const std::string& field) {
    ASSERT_EQ(r.code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  };
  expect_invalid(core_->CreateUser(admin_, MakeUser("", kAlicePw)), "username");
  expect_invalid(core_->CreateUser(admin_, MakeUser("Bob", kAlicePw)), "username");
  expect_invalid(core_->CreateUser(admin_, MakeUser("bob smith", kAlicePw)), "username");
  expect_invalid(core_->CreateUser(admin_, MakeUser(std::string(65, 'b'), kAlicePw)), "username");
  expect_invalid(core_->CreateUser(admin_, MakeUser("bob", "short")), "password");
  expect_invalid(core_->CreateUser(admin_, MakeUser("bob", std::string(2000, 'p'))), "password");
  expect_invalid(core_->CreateUser(admin_, MakeUser("bob", kAlicePw, {static_cast<api::Role>(7)})),
                 "roles[0]");
  expect_invalid(core_->CreateUser(admin_, MakeUser("bob", kAlicePw, {api::ROLE_UNSPECIFIED})),
                 "roles[0]");
  expect_invalid(core_->Login("", kAlicePw), "username");
  expect_invalid(core_->Login("alice", ""), "password");
  expect_invalid(core_->Login("alice", std::string(5000, 'x')), "password");
  api::CreateApiKeyRequest k;
  k.set_description(std::string(300, 'd'));
  expect_invalid(core_->CreateApiKey(alice_, k), "description");
  k.set_description("ci");
  k.set_expires_unix(-5);
  expect_invalid(core_->CreateApiKey(alice_, k), "expires_unix");
  k.set_expires_unix(now_ms_ / 1000 - 1);
  expect_invalid(core_->CreateApiKey(alice_, k), "expires_unix");
  expect_invalid(core_->VerifyApiKey(""), "api_key");
  expect_invalid(core_->VerifyApiKey(std::string(300, 'a')), "api_key");
  expect_invalid(core_->Revocations(-1), "since_unix_ms");
  api::DisableUserRequest d;
  expect_invalid(core_->DisableUser(admin_, d), "username");
}

TEST_F(AuthCoreTest, ApiKeys) {
  api::CreateApiKeyRequest req;
  req.set_description("ci pipeline");
  req.set_expires_unix(now_ms_ / 1000 + 3600);
  auto key = core_->CreateApiKey(alice_, req);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_TRUE(key->api_key().starts_with(key->key_id() + "."));
  auto v = core_->VerifyApiKey(key->api_key());
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_EQ(v->user().username(), "alice");
  EXPECT_EQ(v->key_id(), key->key_id());

  std::string wrong = key->api_key();
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(core_->VerifyApiKey(wrong).error().reason(), auth_reason::kInvalidApiKey);
  for (const std::string& bad : std::vector<std::string>{"nodot", ".", "ak0000000000000000.x", key->key_id() + ".",
                          "zz" + key->key_id().substr(2) + ".abc"})
    EXPECT_EQ(core_->VerifyApiKey(bad).error().reason(), auth_reason::kInvalidApiKey) << bad;

  Advance(3601 * 1000);
  EXPECT_EQ(core_->VerifyApiKey(key->api_key()).error().reason(), auth_reason::kApiKeyExpired);

  req.set_expires_unix(0);
  auto forever = *core_->CreateApiKey(alice_, req);
  api::DisableUserRequest d;
  d.set_username("alice");
  d.set_disabled(true);
  ASSERT_TRUE(core_->DisableUser(admin_, d).ok());
  // Disabling revokes the user's API keys with every token (issue 11):
  // re-enabling the user does not bring them back.
  EXPECT_EQ(core_->VerifyApiKey(forever.api_key()).error().reason(), auth_reason::kInvalidApiKey);
  d.set_disabled(false);
  ASSERT_TRUE(core_->DisableUser(admin_, d).ok());
  EXPECT_EQ(core_->VerifyApiKey(forever.api_key()).error().reason(), auth_reason::kInvalidApiKey);
  ASSERT_TRUE(core_->DeleteUser(admin_, "alice").ok());
  EXPECT_EQ(core_->VerifyApiKey(forever.api_key()).error().reason(), auth_reason::kInvalidApiKey);
}

// Issue 11: an API key minted with a stolen session does not survive the
// owner's password change.
TEST_F(AuthCoreTest, PasswordChangeRevokesApiKeys) {
  api::CreateApiKeyRequest req;
  req.set_description("minted by a thief");
  auto key = core_->CreateApiKey(alice_, req);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  ASSERT_TRUE(core_->VerifyApiKey(key->api_key()).ok());
  api::ChangePasswordRequest change;
  change.set_old_password(kAlicePw);
  change.set_new_password("alice's brand new password");
  ASSERT_TRUE(core_->ChangePassword(alice_, change).ok());
  EXPECT_EQ(core_->VerifyApiKey(key->api_key()).error().reason(), auth_reason::kInvalidApiKey);
}

TEST_F(AuthCoreTest, StateSurvivesRestart) {
  auto login = *core_->Login("alice", kAlicePw);
  auto keys_before = core_->TokenKeys();
  api::DisableUserRequest d;
  d.set_username("alice");
  d.set_disabled(true);
  ASSERT_TRUE(core_->DisableUser(admin_, d).ok());
  Reopen();
  // Same signing key (sealed in the DB), so earlier tokens still verify.
  EXPECT_EQ(core_->TokenKeys().ed25519_spki(0), keys_before.ed25519_spki(0));
  EXPECT_EQ(Verify(login.token()).username(), "alice");
  // Users and revocations persisted.
  auto users = *core_->ListUsers(admin_);
  EXPECT_EQ(users.users_size(), 2);
  EXPECT_EQ(core_->Revocations(0)->revocations_size(), 1);
  EXPECT_EQ(core_->Login("alice", kAlicePw).error().reason(), auth_reason::kUserDisabled);
}

TEST_F(AuthCoreTest, KeyRotationKeepsOldKeyForVerification) {
  auto old_token = core_->Login("alice", kAlicePw)->token();
  auto old_keys = core_->TokenKeys();
  ASSERT_TRUE(core_->RotateSigningKey().ok());
  auto keys = core_->TokenKeys();
  ASSERT_EQ(keys.ed25519_spki_size(), 2);
  EXPECT_EQ(keys.ed25519_spki(1), old_keys.ed25519_spki(0));
  EXPECT_TRUE(core_->MakeVerifier().Verify(old_token, now_ms_ / 1000).ok());
  auto new_token = core_->Login("alice", kAlicePw)->token();
  auto only_new = *crypto::PublicKey::FromSpkiDer(AsBytes(keys.ed25519_spki(0)));
  EXPECT_TRUE(TokenVerifier({only_new}).Verify(new_token, now_ms_ / 1000).ok());
  // Once every token of the old key has expired, restart drops it.
  Advance((900 + 120) * 1000LL);
  Reopen();
  EXPECT_EQ(core_->TokenKeys().ed25519_spki_size(), 1);
  EXPECT_EQ(core_->TokenKeys().ed25519_spki(0), keys.ed25519_spki(0));
}

TEST_F(AuthCoreTest, OldSigningKeyRotatesAtStart) {
  auto before = core_->TokenKeys();
  Advance(91LL * 24 * 3600 * 1000);
  Reopen();
  auto after = core_->TokenKeys();
  ASSERT_EQ(after.ed25519_spki_size(), 2);
  EXPECT_NE(after.ed25519_spki(0), before.ed25519_spki(0));
}

TEST_F(AuthCoreTest, SigningKeyNeedsTheSameSealer) {
  core_.reset();
  auto store = *AuthStore::Open("sqlite://" + dir_ + "/auth.db");
  AuthOptions o;
  o.password = FastScrypt();
  auto core = AuthCore::Create(std::move(store), std::make_shared<TestSealer>(), o);
  ASSERT_FALSE(core.ok());
  EXPECT_EQ(core.code(), Code::kDataLoss);
  EXPECT_EQ(core.error().reason(), auth_reason::kKeyUnsealable);
  Reopen();  // the right sealer still works
}

TEST_F(AuthCoreTest, BootstrapIsIdempotent) {
  EXPECT_FALSE(*core_->BootstrapAdmin("another admin password"));
  EXPECT_EQ(core_->BootstrapAdmin("short").code(), Code::kInvalidArgument);
  EXPECT_TRUE(core_->Login("admin", kAdminPw).ok());
}

TEST_F(AuthCoreTest, WhoAmI) {
  auto me = core_->WhoAmI(alice_);
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->user().username(), "alice");
  EXPECT_EQ(core_->WhoAmI(services::MakeCallerForTesting({.user_id = "service:gateway"})).code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace cloister::auth
