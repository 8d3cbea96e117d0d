// Unit tests of the API-key lifecycle in AuthCore (issue 11): default and
// maximum expiry, revocation (and what verifiers see of it), the scope in
// the proof, last use, no minting with a key, listing, and the migration
// that gives old "forever" keys an expiry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>

#include "attestation/sealer.h"
#include "common/crypto/aead.h"
#include "proto/method_table.h"
#include "services/auth/api_key_scope.h"
#include "services/auth/auth_core.h"
#include "services/auth/migrations/auth_migrations.h"
#include "services/common/grant_verifier.h"
#include "services/common/identity_verifier.h"

namespace cloister::auth {
namespace {

constexpr int64_t kDay = 86400;
constexpr char kAdminPw[] = "admin password 123";
constexpr char kAlicePw[] = "alice password 123";
constexpr char kBobPw[] = "bob password 12345";

using LocalSealer = attestation::AeadSealer;

class ApiKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path() / "cloister-apikey-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Reopen();
    ASSERT_TRUE(*core_->BootstrapAdmin(kAdminPw));
    admin_ = CallerFor("admin");
    for (auto [name, pw] : {std::pair{"alice", kAlicePw}, std::pair{"bob", kBobPw}}) {
      api::CreateUserRequest r;
      r.set_username(name);
      r.set_password(pw);
      ASSERT_TRUE(core_->CreateUser(admin_, r).ok());
    }
    alice_ = CallerFor("alice");
    bob_ = CallerFor("bob");
  }
  void TearDown() override {
    core_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen(int64_t max_expiry_s = 365 * kDay) {
    core_.reset();
    auto store = AuthStore::Open("sqlite://" + dir_ + "/auth.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    AuthOptions o;
    o.password.scrypt_log2_n = 10;  // tests only
    o.now_ms = [this] { return now_ms_.load(); };
    o.api_key_max_expiry_s = max_expiry_s;
    o.api_key_default_expiry_s = std::min<int64_t>(o.api_key_default_expiry_s, max_expiry_s);
    auto core = AuthCore::Create(*std::move(store), sealer_, o);
    ASSERT_TRUE(core.ok()) << core.error().ToString();
    core_ = *std::move(core);
  }

  Caller CallerFor(const std::string& name, const std::string& token_id = "") {
    auto users = core_->store().ListUsers(core_->store().db());
    if (!users.ok()) ADD_FAILURE() << users.error().ToString();
    for (const auto& u : users.ok() ? *users : std::vector<UserRecord>{})
      if (u.username == name)
        return services::MakeCallerForTesting({.user_id = u.user_id,
                                               .admin = (u.roles & kRoleAdminBit) != 0,
                                               .username = u.username,
                                               .token_id = token_id});
    ADD_FAILURE() << "no user " << name;
    return {};
  }

  api::CreateApiKeyResponse Create(const Caller& who, int64_t expires_in_s = 0,
                                   api::ApiKeyScope scope = {}) {
    api::CreateApiKeyRequest req;
    req.set_description("test key");
    req.set_expires_in_s(expires_in_s);
    *req.mutable_scope() = std::move(scope);
    auto k = core_->CreateApiKey(who, req);
    EXPECT_TRUE(k.ok()) << k.error().ToString();
    return k.ok() ? *k : api::CreateApiKeyResponse();
  }

  // `proof` checked as the gateway and every service check it: against
  // auth's keys and every revocation auth publishes.
  Result<Caller> Check(const std::string& proof) {
    services::IdentityVerifier v;
    std::vector<crypto::PublicKey> keys;
    const internal::TokenKeysResponse token_keys = core_->TokenKeys();
    for (const auto& spki : token_keys.ed25519_spki())
      keys.push_back(*crypto::PublicKey::FromSpkiDer(AsBytes(spki)));
    v.SetKeys(std::move(keys));
    CLOISTER_ASSIGN_OR_RETURN(internal::RevocationsResponse revs, core_->Revocations(0));
    for (const auto& r : revs.revocations()) v.AddRevocation(r);
    return v.Verify(proof, Now());
  }

  int64_t Now() const { return now_ms_ / 1000; }
  void Advance(int64_t s) { now_ms_ += s * 1000; }

  std::string dir_;
  std::atomic<int64_t> now_ms_{1'800'000'000'000};
  std::shared_ptr<LocalSealer> sealer_ = std::make_shared<LocalSealer>();
  std::unique_ptr<AuthCore> core_;
  Caller admin_, alice_, bob_;
};

TEST_F(ApiKeyTest, DefaultExpiryAndMaximum) {
  auto k = Create(alice_);
  EXPECT_EQ(k.expires_unix(), Now() + 90 * kDay);  // never "forever" any more
  EXPECT_EQ(Create(alice_, 365 * kDay).expires_unix(), Now() + 365 * kDay);

  api::CreateApiKeyRequest req;
  req.set_expires_in_s(365 * kDay + 1);
  auto r = core_->CreateApiKey(alice_, req);
  EXPECT_EQ(r.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().reason(), auth_reason::kApiKeyExpiryTooLong);
  // The absolute form obeys the same maximum, even for an admin.
  req.set_expires_in_s(0);
  req.set_expires_unix(Now() + 400 * kDay);
  EXPECT_EQ(core_->CreateApiKey(admin_, req).error().reason(), auth_reason::kApiKeyExpiryTooLong);
  req.set_expires_in_s(60);
  EXPECT_EQ(core_->CreateApiKey(alice_, req).code(), Code::kInvalidArgument);  // both given
  req.set_expires_unix(0);
  req.set_expires_in_s(-1);
  EXPECT_EQ(core_->CreateApiKey(alice_, req).code(), Code::kInvalidArgument);
}

TEST_F(ApiKeyTest, ExpiredKeyIsRefusedAndItsProofEndsWithIt) {
  auto k = Create(alice_, 1);
  auto v = core_->VerifyApiKey(k.api_key());
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_LE(v->proof_expires_unix(), k.expires_unix());
  Advance(1);
  auto r = core_->VerifyApiKey(k.api_key());
  EXPECT_EQ(r.code(), Code::kUnauthenticated);
  EXPECT_EQ(r.error().reason(), auth_reason::kApiKeyExpired);
  // Its proof stops verifying at the same moment everywhere.
  EXPECT_EQ(Check(v->proof()).error().reason(), "TOKEN_EXPIRED");
}

TEST_F(ApiKeyTest, LoweringTheMaximumCapsExistingKeys) {
  auto k = Create(alice_, 300 * kDay);
  Reopen(/*max_expiry_s=*/30 * kDay);
  auto keys = core_->ListApiKeys(alice_, {});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->keys_size(), 1);
  EXPECT_EQ(keys->keys(0).expires_unix(), Now() + 30 * kDay);
  Advance(30 * kDay);
  EXPECT_EQ(core_->VerifyApiKey(k.api_key()).error().reason(), auth_reason::kApiKeyExpired);
}

TEST_F(ApiKeyTest, RevokeByOwnerOrAdminReachesEveryVerifier) {
  auto k = Create(alice_);
  auto proof = core_->VerifyApiKey(k.api_key());
  ASSERT_TRUE(proof.ok());
  ASSERT_TRUE(Check(proof->proof()).ok());

  api::RevokeApiKeyRequest req;
  req.set_key_id(k.key_id());
  // Another user's key looks like no key at all.
  auto r = core_->RevokeApiKey(bob_, req);
  EXPECT_EQ(r.code(), Code::kNotFound);
  EXPECT_EQ(r.error().reason(), auth_reason::kApiKeyNotFound);
  ASSERT_TRUE(core_->VerifyApiKey(k.api_key()).ok());

  auto revoked = core_->RevokeApiKey(alice_, req);
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  EXPECT_EQ(revoked->key().key_id(), k.key_id());
  EXPECT_EQ(revoked->key().username(), "alice");
  EXPECT_EQ(core_->VerifyApiKey(k.api_key()).error().reason(), auth_reason::kInvalidApiKey);
  // The proof the gateway may have cached is revoked in the feed.
  EXPECT_EQ(Check(proof->proof()).error().reason(), "TOKEN_REVOKED");
  EXPECT_EQ(core_->RevokeApiKey(alice_, req).error().reason(), auth_reason::kApiKeyNotFound);

  auto k2 = Create(alice_);
  req.set_key_id(k2.key_id());
  EXPECT_TRUE(core_->RevokeApiKey(admin_, req).ok());
  EXPECT_EQ(core_->VerifyApiKey(k2.api_key()).error().reason(), auth_reason::kInvalidApiKey);

  for (const std::string& bad : std::vector<std::string>{"", "nope", k2.key_id() + "0",
                                                          "zz" + k2.key_id().substr(2)}) {
    req.set_key_id(bad);
    EXPECT_EQ(core_->RevokeApiKey(alice_, req).code(), Code::kInvalidArgument) << bad;
  }
}

TEST_F(ApiKeyTest, ScopeTravelsInTheSignedProofAndIsEnforced) {
  const auto& table = rpc::MethodTable::Get();
  api::ApiKeyScope ro;
  ro.set_read_only(true);
  auto k = Create(alice_, 0, ro);
  auto proof = core_->VerifyApiKey(k.api_key());
  ASSERT_TRUE(proof.ok());
  auto body = core_->MakeVerifier().Verify(proof->proof(), Now());
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(body->scope().read_only());
  auto caller = Check(proof->proof());
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(caller->scoped());
  EXPECT_EQ(caller->via(), "api-key");
  EXPECT_TRUE(services::CheckApiKeyScope(*table.FindPublic("ListFunctions"), *caller).ok());
  EXPECT_TRUE(services::CheckApiKeyScope(*table.FindPublic("ListApiKeys"), *caller).ok());
  auto denied = services::CheckApiKeyScope(*table.FindPublic("Call"), *caller);
  EXPECT_EQ(denied.code(), Code::kPermissionDenied);
  EXPECT_EQ(denied.error().reason(), "API_KEY_SCOPE");

  api::ApiKeyScope some;
  some.add_methods("Call");
  some.add_methods("Call");
  some.add_methods("ListFunctions");
  auto k2 = Create(alice_, 0, some);
  auto c2 = Check(core_->VerifyApiKey(k2.api_key())->proof());
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->scope().methods_size(), 2);  // canonical: sorted, no duplicates
  EXPECT_TRUE(services::CheckApiKeyScope(*table.FindPublic("Call"), *c2).ok());
  EXPECT_FALSE(services::CheckApiKeyScope(*table.FindPublic("WhoAmI"), *c2).ok());
  auto listed = core_->ListApiKeys(alice_, {});
  ASSERT_TRUE(listed.ok());
  std::map<std::string, std::string> scopes;
  for (const auto& info : listed->keys()) scopes[info.key_id()] = ScopeToText(info.scope());
  EXPECT_EQ(scopes[k.key_id()], "read-only");
  EXPECT_EQ(scopes[k2.key_id()], "Call,ListFunctions");

  // An unscoped key's proof has no scope: everything the roles allow.
  auto plain = Check(core_->VerifyApiKey(Create(alice_).api_key())->proof());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->scoped());
  EXPECT_TRUE(services::CheckApiKeyScope(*table.FindPublic("Call"), *plain).ok());

  for (std::string bad : {"NoSuchMethod", "TokenKeys", "Call;drop", ""}) {
    api::CreateApiKeyRequest req;
    req.mutable_scope()->add_methods(bad);
    auto r = core_->CreateApiKey(alice_, req);
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.error().reason(), kScopeInvalid) << bad;
  }
}

TEST_F(ApiKeyTest, ReadOnlyMethodsComeFromTheTable) {
  const auto& table = rpc::MethodTable::Get();
  for (const char* m : {"WhoAmI", "ListApiKeys", "ListUsers", "ListFunctions", "ListKeys",
                        "DescribeKey", "StatFile", "ListFiles", "Download", "Health"})
    EXPECT_TRUE(table.FindPublic(m) && table.FindPublic(m)->read_only) << m;
  for (const char* m : {"Call", "CreateApiKey", "RevokeApiKey", "ChangePassword", "Login",
                        "Encrypt", "Decrypt", "Sign", "ExportKey", "CreateUpload", "DeleteFile"})
    EXPECT_TRUE(table.FindPublic(m) && !table.FindPublic(m)->read_only) << m;
}

TEST_F(ApiKeyTest, LastUseIsWrittenAtMostOnceAMinute) {
  auto k = Create(alice_);
  auto last_used = [&] { return core_->ListApiKeys(alice_, {})->keys(0).last_used_unix(); };
  EXPECT_EQ(last_used(), 0);
  const int64_t first = Now();
  ASSERT_TRUE(core_->VerifyApiKey(k.api_key()).ok());
  EXPECT_EQ(last_used(), first);
  Advance(30);
  ASSERT_TRUE(core_->VerifyApiKey(k.api_key()).ok());
  EXPECT_EQ(last_used(), first);  // within the minute: no write
  Advance(31);
  ASSERT_TRUE(core_->VerifyApiKey(k.api_key()).ok());
  EXPECT_EQ(last_used(), Now());
}

TEST_F(ApiKeyTest, AnApiKeyCannotMintAnother) {
  auto k = Create(alice_);
  Caller via_key = CallerFor("alice", "apikey:" + k.key_id());
  ASSERT_EQ(via_key.via(), "api-key");
  api::CreateApiKeyRequest req;
  req.set_expires_in_s(60);
  auto r = core_->CreateApiKey(via_key, req);
  EXPECT_EQ(r.code(), Code::kPermissionDenied);
  EXPECT_EQ(r.error().reason(), auth_reason::kApiKeyCannotMint);
  // The same caller through a real proof: auth's own identity check says
  // "api-key" from the signed token id, whatever the gateway claims.
  auto caller = Check(core_->VerifyApiKey(k.api_key())->proof());
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(core_->CreateApiKey(*caller, req).error().reason(), auth_reason::kApiKeyCannotMint);
}

TEST_F(ApiKeyTest, ListShowsOwnKeysWithoutSecretsAndAdminsMayNameAUser) {
  auto k1 = Create(alice_);
  Advance(5);
  auto k2 = Create(alice_, 3600);
  Create(bob_);
  auto mine = core_->ListApiKeys(alice_, {});
  ASSERT_TRUE(mine.ok()) << mine.error().ToString();
  ASSERT_EQ(mine->keys_size(), 2);
  EXPECT_EQ(mine->keys(0).key_id(), k2.key_id());  // newest first
  EXPECT_EQ(mine->keys(0).expires_unix(), Now() + 3600);
  EXPECT_EQ(mine->keys(1).key_id(), k1.key_id());
  EXPECT_EQ(mine->keys(1).description(), "test key");
  EXPECT_EQ(mine->keys(1).created_unix(), Now() - 5);
  const std::string secret = k1.api_key().substr(k1.api_key().find('.') + 1);
  EXPECT_EQ(mine->DebugString().find(secret), std::string::npos);

  api::ListApiKeysRequest other;
  other.set_username("alice");
  auto denied = core_->ListApiKeys(bob_, other);
  EXPECT_EQ(denied.code(), Code::kPermissionDenied);
  EXPECT_EQ(denied.error().reason(), auth_reason::kAdminRequired);
  auto by_admin = core_->ListApiKeys(admin_, other);
  ASSERT_TRUE(by_admin.ok());
  EXPECT_EQ(by_admin->keys_size(), 2);
  EXPECT_EQ(by_admin->keys(0).username(), "alice");
  other.set_username("nobody");
  EXPECT_EQ(core_->ListApiKeys(admin_, other).code(), Code::kNotFound);
}

// A password change revokes the user's keys and the proofs already issued
// for them; a token issued right after it is not born revoked.
TEST_F(ApiKeyTest, PasswordChangeRevokesKeysButNotTheNextLogin) {
  auto k = Create(alice_);
  auto proof = core_->VerifyApiKey(k.api_key());
  ASSERT_TRUE(proof.ok());
  api::ChangePasswordRequest change;
  change.set_old_password(kAlicePw);
  change.set_new_password("alice's brand new password");
  ASSERT_TRUE(core_->ChangePassword(alice_, change).ok());
  EXPECT_EQ(core_->VerifyApiKey(k.api_key()).error().reason(), auth_reason::kInvalidApiKey);
  EXPECT_EQ(Check(proof->proof()).error().reason(), "TOKEN_REVOKED");
  auto login = core_->Login("alice", "alice's brand new password");
  ASSERT_TRUE(login.ok());
  auto who = Check(login->token());
  EXPECT_TRUE(who.ok()) << who.error().ToString();
  // And a key made with the new session works at once.
  auto fresh = Create(alice_);
  auto fresh_proof = core_->VerifyApiKey(fresh.api_key());
  ASSERT_TRUE(fresh_proof.ok());
  EXPECT_TRUE(Check(fresh_proof->proof()).ok());
}

TEST_F(ApiKeyTest, ExpiredKeysArePrunedAfterAMonth) {
  Create(alice_, 60);
  Advance(61);
  EXPECT_EQ(core_->ListApiKeys(alice_, {})->keys_size(), 1);  // still shown, as expired
  Advance(31 * kDay);
  ASSERT_TRUE(core_->Prune().ok());
  EXPECT_EQ(core_->ListApiKeys(alice_, {})->keys_size(), 0);
}

TEST(ApiKeyMigrationTest, KeysMadeForeverGetTheMaximumExpiry) {
  std::string tmpl = std::filesystem::temp_directory_path() / "cloister-apikey-mig-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string url = "sqlite://" + std::string(tmpl) + "/auth.db";
  {
    auto db = storage::Engine::Open(url);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Migrate(AuthMigrations().first(1)).ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO users(user_id, username, password_hash, roles, "
                               "created_unix, updated_unix) VALUES ('u-1', 'old', 'x', 1, 1, 1)")
                    .ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO api_keys(key_id, user_id, secret_hash, description, "
                               "created_unix, expires_unix) VALUES ('ak00', 'u-1', x'00', 'old', "
                               "1000, 0)")
                    .ok());
  }
  auto store = AuthStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  auto key = (*store)->FindApiKey((*store)->db(), "ak00");
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ((*key)->expires_unix, 1000 + 365 * kDay);
  EXPECT_EQ((*key)->last_used_unix, 0);
  EXPECT_EQ((*key)->scope, "");
  std::filesystem::remove_all(std::string(tmpl));
}

// Migration 3 (issue 11): the per-username lock rows, which strangers
// could set on anyone, are gone after the upgrade; the admin they had
// locked is not locked from any source.
TEST(ThrottleMigrationTest, OldPerUsernameLocksDoNotSurviveTheUpgrade) {
  std::string tmpl = std::filesystem::temp_directory_path() / "cloister-throttle-mig-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string url = "sqlite://" + std::string(tmpl) + "/auth.db";
  {
    auto db = storage::Engine::Open(url);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Migrate(AuthMigrations().first(2)).ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO login_throttle(username, failures, locked_until_ms, "
                               "last_failure_ms) VALUES ('admin', 40, 9000000000000, 1)")
                    .ok());
  }
  auto store = AuthStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  for (std::string_view src : {"", "192.0.2.1"}) {
    auto t = (*store)->GetThrottle((*store)->db(), "admin", src);
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    EXPECT_EQ(t->failures, 0);
    EXPECT_EQ(t->locked_until_ms, 0);
  }
  EXPECT_FALSE((*store)->db().Execute("SELECT 1 FROM login_throttle").ok());
  std::filesystem::remove_all(std::string(tmpl));
}

TEST(ApiKeyScopeTextTest, RoundTripsAndRefusesCorruption) {
  api::ApiKeyScope s;
  s.set_read_only(true);
  s.add_methods("Call");
  EXPECT_EQ(ScopeToText(s), "read-only,Call");
  auto back = ScopeFromText("read-only,Call");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->read_only());
  EXPECT_EQ(back->methods(0), "Call");
  EXPECT_FALSE(ScopeFromText("")->read_only());
  for (std::string bad : {",", "Call,", "Call,,Sign", "Call,read-only", "a b"})
    EXPECT_EQ(ScopeFromText(bad).code(), Code::kDataLoss) << bad;
}

}  // namespace
}  // namespace cloister::auth
