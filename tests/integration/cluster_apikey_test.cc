// Issue 11, must-be-true 2, on a real cluster: an API key is refused after
// revoke (within about a second, though the gateway had cached it), after
// expiry, after its owner's password change and after its owner is
// disabled; a token cannot mint a key past the cluster's maximum expiry
// and a key cannot mint another; a read-only key lists but cannot write.
// Each refusal is in the gateway's audit log. The lifecycle also through
// `cloister apikey create|ls|revoke`.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "sdk/cloister_client.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultExpiryS = 3600;
constexpr int64_t kMaxExpiryS = 86400;
constexpr const char* kPassword = "a password long enough";

int64_t NowUnix() { return static_cast<int64_t>(::time(nullptr)); }

class ClusterApiKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    // The cluster's API-key expiry settings are part of auth's signed
    // configuration ([auth] in cluster.toml → auth's flags).
    Status st = cluster_->Start([](std::string toml) {
      auto set = [&](const std::string& key, int64_t v) {
        const size_t pos = toml.find(key + " = ");
        if (pos == std::string::npos) return;
        const size_t end = toml.find('\n', pos);
        toml.replace(pos, end - pos, key + " = " + std::to_string(v));
      };
      set("api_key_default_expiry_s", kDefaultExpiryS);
      set("api_key_max_expiry_s", kMaxExpiryS);
      return toml;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    admin_ = Connect();
    ASSERT_NE(admin_, nullptr);
    ASSERT_TRUE(admin_->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"erin", "carol", "dave", "cli"})
      ASSERT_TRUE(admin_->CreateUser(u, kPassword).ok()) << u;
  }
  static void TearDownTestSuite() {
    admin_.reset();
    cluster_.reset();
  }

  static std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect(
        {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()});
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static std::unique_ptr<sdk::Client> As(const std::string& user,
                                         const std::string& password = kPassword) {
    auto c = Connect();
    if (c == nullptr) return nullptr;
    auto u = c->Login(user, password);
    EXPECT_TRUE(u.ok()) << user << ": " << u.error().ToString();
    return c;
  }
  static api::CreateApiKeyResponse NewKey(sdk::Client& owner, sdk::ApiKeyOptions opts = {}) {
    if (opts.description.empty()) opts.description = "integration test";
    auto k = owner.CreateApiKey(opts);
    EXPECT_TRUE(k.ok()) << k.error().ToString();
    return k.ok() ? *k : api::CreateApiKeyResponse();
  }
  static std::unique_ptr<sdk::Client> WithKey(const std::string& api_key) {
    auto c = Connect();
    if (c == nullptr) return nullptr;
    auto u = c->LoginWithApiKey(api_key);
    EXPECT_TRUE(u.ok()) << u.error().ToString();
    return c;
  }
  // A fresh client with the key: never cached anywhere on the client side.
  static Error RefusalOfFreshClient(const std::string& api_key) {
    auto c = Connect();
    if (c == nullptr) return Internal("no client");
    auto u = c->LoginWithApiKey(api_key);
    if (!u.ok()) {
      EXPECT_EQ(PublicErrorProblem(u.error()), "");
    }
    return u.ok() ? Internal("the key was accepted") : u.error();
  }

  // Calls WhoAmI with `key_client` until it is refused; how long that took.
  static std::chrono::milliseconds TimeUntilRefused(sdk::Client& key_client,
                                                    std::chrono::seconds limit) {
    const auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (auto r = key_client.WhoAmI(); !r.ok()) {
        EXPECT_EQ(PublicErrorProblem(r.error()), "");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }

  // Calls WhoAmI with `key_client` until it is refused with `reason`; true
  // if that happened within `limit`. (A service may refuse first: each
  // polls revocations on its own clock, and its refusal of a revoked proof
  // is PERMISSION_DENIED [AUTH_PROOF_INVALID]; the gateway's, once its poll
  // has run, is the one a client then keeps seeing.)
  static bool RefusedWith(sdk::Client& key_client, const std::string& reason,
                          std::chrono::seconds limit) {
    const auto start = Clock::now();
    while (Clock::now() - start < limit) {
      auto r = key_client.WhoAmI();
      if (!r.ok()) {
        EXPECT_EQ(PublicErrorProblem(r.error()), "");
      }
      if (!r.ok() && r.error().reason() == reason) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The gateway audited a refusal with `reason` (for `method`, if given).
  static void ExpectAudited(const std::string& reason, const std::string& method = "") {
    auto audit = cluster_->CliJson({"audit", "show", "--service", "gateway"});
    ASSERT_TRUE(audit.is_array()) << audit.dump();
    bool found = false;
    for (const auto& e : audit)
      found |= e.value("decision", "") == "deny" && e.value("reason", "") == reason &&
               (method.empty() || e.value("method", "") == method);
    EXPECT_TRUE(found) << "no audited refusal with reason " << reason << " " << method;
  }

  static std::unique_ptr<ClusterFixture> cluster_;
  static std::unique_ptr<sdk::Client> admin_;
};
std::unique_ptr<ClusterFixture> ClusterApiKeyTest::cluster_;
std::unique_ptr<sdk::Client> ClusterApiKeyTest::admin_;

TEST_F(ClusterApiKeyTest, ListShowsKeysAndRevokeStopsACachedKeyWithinASecond) {
  auto erin = As("erin");
  ASSERT_NE(erin, nullptr);
  const int64_t before = NowUnix();
  auto key = NewKey(*erin, {.description = "ci pipeline"});
  // The cluster's configured default, not "forever".
  EXPECT_GE(key.expires_unix(), before + kDefaultExpiryS);
  EXPECT_LE(key.expires_unix(), NowUnix() + kDefaultExpiryS);
  auto bot = WithKey(key.api_key());
  ASSERT_NE(bot, nullptr);
  ASSERT_TRUE(bot->WhoAmI().ok());  // the gateway now holds the key's proof in its cache

  auto listed = erin->ListApiKeys();
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  const api::ApiKeyInfo* info = nullptr;
  for (const auto& k : *listed)
    if (k.key_id() == key.key_id()) info = &k;
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->description(), "ci pipeline");
  EXPECT_EQ(info->expires_unix(), key.expires_unix());
  EXPECT_GE(info->last_used_unix(), before);  // used by WithKey's check
  EXPECT_GE(info->created_unix(), before);
  EXPECT_FALSE(info->scope().read_only());
  const std::string secret = key.api_key().substr(key.api_key().find('.') + 1);
  for (const auto& k : *listed) EXPECT_EQ(k.DebugString().find(secret), std::string::npos);
  // Someone else's key is not theirs to see or revoke.
  auto carol = As("carol");
  ASSERT_NE(carol, nullptr);
  EXPECT_EQ(PublicReason(carol->ListApiKeys("erin")), "NOT_RESOURCE_OWNER");
  EXPECT_EQ(PublicReason(carol->RevokeApiKey(key.key_id())), "API_KEY_NOT_FOUND");
  auto as_admin = admin_->ListApiKeys("erin");
  ASSERT_TRUE(as_admin.ok()) << as_admin.error().ToString();
  EXPECT_FALSE(as_admin->empty());

  auto revoked = erin->RevokeApiKey(key.key_id());
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  const auto took = TimeUntilRefused(*bot, std::chrono::seconds(5));
  // The revocation poll is 1 s; allow for the round trips of a 2-core box.
  EXPECT_LT(took.count(), 2500) << "revoked key still worked after " << took.count() << " ms";
  const auto start = Clock::now();
  ASSERT_TRUE(RefusedWith(*bot, "INVALID_API_KEY", std::chrono::seconds(3)));
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count() +
                took.count(),
            2500);
  auto refused = bot->WhoAmI();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kUnauthenticated) << refused.error().ToString();
  EXPECT_EQ(RefusalOfFreshClient(key.api_key()).reason(), "INVALID_API_KEY");
  ExpectAudited("INVALID_API_KEY", "WhoAmI");
}

TEST_F(ClusterApiKeyTest, KeyIsRefusedAfterItsExpiry) {
  auto erin = As("erin");
  ASSERT_NE(erin, nullptr);
  auto key = NewKey(*erin, {.expires_in_s = 2});
  auto bot = WithKey(key.api_key());
  ASSERT_NE(bot, nullptr);
  ASSERT_TRUE(bot->ListFunctions().ok());
  while (NowUnix() < key.expires_unix())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = bot->ListFunctions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(PublicReason(r), "API_KEY_EXPIRED");
  EXPECT_EQ(RefusalOfFreshClient(key.api_key()).reason(), "API_KEY_EXPIRED");
  ExpectAudited("API_KEY_EXPIRED", "ListFunctions");
}

TEST_F(ClusterApiKeyTest, NoKeyPastTheMaximumAndNoKeyFromAKey) {
  auto erin = As("erin");
  ASSERT_NE(erin, nullptr);
  auto too_long = erin->CreateApiKey({.expires_in_s = kMaxExpiryS + 1});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(PublicReason(too_long), "API_KEY_EXPIRY_TOO_LONG");
  auto absolute = erin->CreateApiKey("old API", NowUnix() + kMaxExpiryS + 3600);
  EXPECT_EQ(PublicReason(absolute), "API_KEY_EXPIRY_TOO_LONG");
  auto at_max = NewKey(*erin, {.expires_in_s = kMaxExpiryS});
  EXPECT_LE(at_max.expires_unix(), NowUnix() + kMaxExpiryS);

  // A stolen key cannot extend itself.
  auto bot = WithKey(at_max.api_key());
  ASSERT_NE(bot, nullptr);
  auto minted = bot->CreateApiKey({.expires_in_s = 60});
  ASSERT_FALSE(minted.ok());
  EXPECT_EQ(minted.error().code(), Code::kPermissionDenied);
  EXPECT_EQ(PublicReason(minted), "API_KEY_CANNOT_MINT");
  ASSERT_TRUE(erin->RevokeApiKey(at_max.key_id()).ok());
}

TEST_F(ClusterApiKeyTest, PasswordChangeRevokesTheOwnersKeys) {
  auto carol = As("carol");
  ASSERT_NE(carol, nullptr);
  auto key = NewKey(*carol);
  auto bot = WithKey(key.api_key());
  ASSERT_NE(bot, nullptr);
  ASSERT_TRUE(bot->WhoAmI().ok());
  const std::string new_password = "carol's new password, also long";
  ASSERT_TRUE(carol->ChangePassword("carol", kPassword, new_password).ok());
  const auto took = TimeUntilRefused(*bot, std::chrono::seconds(5));
  EXPECT_LT(took.count(), 2500);
  EXPECT_TRUE(RefusedWith(*bot, "INVALID_API_KEY", std::chrono::seconds(3)));
  EXPECT_EQ(RefusalOfFreshClient(key.api_key()).reason(), "INVALID_API_KEY");
  // The owner signs in again at once (a token issued right after the
  // change is not covered by it) and the old key stays dead.
  auto again = As("carol", new_password);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->WhoAmI().ok());
  auto keys = again->ListApiKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->empty());
}

TEST_F(ClusterApiKeyTest, DisablingTheOwnerRevokesTheirKeys) {
  auto dave = As("dave");
  ASSERT_NE(dave, nullptr);
  auto key = NewKey(*dave);
  auto bot = WithKey(key.api_key());
  ASSERT_NE(bot, nullptr);
  ASSERT_TRUE(bot->ListFunctions().ok());
  ASSERT_TRUE(admin_->DisableUser("dave", true).ok());
  const auto took = TimeUntilRefused(*bot, std::chrono::seconds(5));
  EXPECT_LT(took.count(), 2500);
  auto r = bot->ListFunctions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated) << r.error().ToString();
  // Re-enabling the user does not bring the key back.
  ASSERT_TRUE(admin_->DisableUser("dave", false).ok());
  EXPECT_EQ(RefusalOfFreshClient(key.api_key()).reason(), "INVALID_API_KEY");
  ExpectAudited("INVALID_API_KEY", "ListFunctions");
}

TEST_F(ClusterApiKeyTest, ReadOnlyKeyListsButIsRefusedAWrite) {
  auto erin = As("erin");
  ASSERT_NE(erin, nullptr);
  api::ApiKeyScope ro;
  ro.set_read_only(true);
  auto key = NewKey(*erin, {.description = "dashboard", .scope = ro});
  auto bot = WithKey(key.api_key());
  ASSERT_NE(bot, nullptr);
  auto fns = bot->ListFunctions();
  ASSERT_TRUE(fns.ok()) << fns.error().ToString();
  EXPECT_FALSE(fns->empty());
  EXPECT_TRUE(bot->ListApiKeys().ok());
  auto call = bot->Call("echo", sdk::StringArguments{}, {{"data", "x"}});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code(), Code::kPermissionDenied);
  EXPECT_EQ(PublicReason(call), "API_KEY_SCOPE");
  EXPECT_EQ(PublicReason(bot->RevokeApiKey(key.key_id())), "API_KEY_SCOPE");
  ExpectAudited("API_KEY_SCOPE", "Call");

  // A key for named methods only: what it names, nothing else.
  api::ApiKeyScope only_call;
  only_call.add_methods("Call");
  auto caller_key = NewKey(*erin, {.scope = only_call});
  auto runner = WithKey(caller_key.api_key());
  ASSERT_NE(runner, nullptr);
  auto echo = runner->Call("echo", sdk::StringArguments{}, {{"data", "hi"}});
  ASSERT_TRUE(echo.ok()) << echo.error().ToString();
  EXPECT_EQ(echo->outputs().at("data"), "hi");
  EXPECT_EQ(PublicReason(runner->ListFunctions()), "API_KEY_SCOPE");
  auto bad_scope = erin->CreateApiKey({.scope = [] {
    api::ApiKeyScope s;
    s.add_methods("NoSuchMethod");
    return s;
  }()});
  EXPECT_EQ(PublicReason(bad_scope), "API_KEY_SCOPE_INVALID");
}

TEST_F(ClusterApiKeyTest, CliCreateListRevoke) {
  const std::string pw = kPassword;
  RunResult login = cluster_->Cli({"login", "--user", "cli", "--password-stdin"}, &pw);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  for (const char* sub : {"create", "ls", "revoke"}) {
    RunResult help = cluster_->Cli({"apikey", sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find("--json"), std::string::npos) << help.out;
  }
  int code = -1;
  auto created = cluster_->CliJson(
      {"apikey", "create", "--description", "from the cli", "--expires-in", "2h", "--scope",
       "read-only,Call"},
      nullptr, &code);
  ASSERT_EQ(code, 0) << created.dump();
  const std::string id = created.value("key_id", "");
  ASSERT_FALSE(id.empty()) << created.dump();
  EXPECT_EQ(created.value("api_key", "").rfind(id + ".", 0), 0u);
  EXPECT_EQ(created.value("scope", ""), "read-only,Call");
  EXPECT_NEAR(static_cast<double>(created.value("expires_unix", int64_t{0})),
              static_cast<double>(NowUnix() + 7200), 30.0);

  auto listed = cluster_->CliJson({"apikey", "ls"}, nullptr, &code);
  ASSERT_EQ(code, 0) << listed.dump();
  ASSERT_TRUE(listed.is_array());
  bool seen = false;
  for (const auto& k : listed) {
    EXPECT_FALSE(k.contains("api_key")) << k.dump();
    if (k.value("key_id", "") != id) continue;
    seen = true;
    EXPECT_EQ(k.value("description", ""), "from the cli");
    EXPECT_TRUE(k["scope"].value("read_only", false));
  }
  EXPECT_TRUE(seen) << listed.dump();
  RunResult table = cluster_->Cli({"apikey", "ls"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("read-only,Call"), std::string::npos) << table.out;

  // Usage errors are named and exit 2; server refusals exit 1 with the reason.
  RunResult bad_duration = cluster_->Cli({"apikey", "create", "--expires-in", "soon"});
  EXPECT_EQ(bad_duration.exit_code, 2);
  EXPECT_NE(bad_duration.err.find("--expires-in"), std::string::npos) << bad_duration.err;
  RunResult too_long = cluster_->Cli({"apikey", "create", "--expires-in", "400d"});
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.err.find("API_KEY_EXPIRY_TOO_LONG"), std::string::npos) << too_long.err;
  RunResult bad_scope = cluster_->Cli({"apikey", "create", "--scope", "Cal l"});
  EXPECT_EQ(bad_scope.exit_code, 2);

  auto revoked = cluster_->CliJson({"apikey", "revoke", id}, nullptr, &code);
  ASSERT_EQ(code, 0) << revoked.dump();
  EXPECT_TRUE(revoked.value("revoked", false));
  RunResult again = cluster_->Cli({"apikey", "revoke", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("API_KEY_NOT_FOUND"), std::string::npos) << again.err;

  // The older spelling still creates a key (now with the default expiry).
  auto old = cluster_->CliJson({"user", "apikey", "--description", "old"}, nullptr, &code);
  ASSERT_EQ(code, 0) << old.dump();
  EXPECT_FALSE(old.value("api_key", "").empty());
}

}  // namespace
}  // namespace cloister::testing
