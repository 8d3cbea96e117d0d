// The C++ SDK against a real cluster (platform, auth, exec, gateway started
// by `cloister cluster up`): the gateway is attested before any credential
// is sent, a user logs in and a one-shot `echo` runs in cloister-exec, token
// refresh, typed errors with the server's reasons.
#include <gtest/gtest.h>

#include "sdk/cloister_client.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

constexpr const char* kUserPassword = "correct horse battery staple";

class ClusterSdkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Connect();
    ASSERT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
    auto created = admin->CreateUser("alice", kUserPassword);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }
  static void TearDownTestSuite() {
    cluster_.reset();  // cluster down
  }
  static std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect(
        {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()});
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterSdkTest::cluster_;

TEST_F(ClusterSdkTest, ConnectAttestsTheGateway) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->gateway().attested);
  EXPECT_EQ(client->gateway().role, "gateway");
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.error().ToString();
  EXPECT_EQ(health->status(), "SERVING");
}

TEST_F(ClusterSdkTest, UserLogsInAndEchoRunsInExec) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto user = client->Login("alice", kUserPassword);
  ASSERT_TRUE(user.ok()) << user.error().ToString();
  EXPECT_EQ(user->username(), "alice");

  const std::string payload("hello\0enclave\xff", 14);
  auto r = client->Call("echo", sdk::StringArguments{}, {{"data", payload}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->outputs().count("data"), 1u);
  EXPECT_EQ(r->outputs().at("data"), payload);

  auto who = client->WhoAmI();
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->username(), "alice");
  auto fns = client->ListFunctions();
  ASSERT_TRUE(fns.ok()) << fns.error().ToString();
  bool has_echo = false;
  for (const auto& f : *fns) has_echo |= f.name() == "echo";
  EXPECT_TRUE(has_echo);
}

TEST_F(ClusterSdkTest, TokenIsRefreshedBeforeExpiry) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Login("alice", kUserPassword).ok());
  const std::string first = client->session()->token;
  client->ExpireTokenForTesting();
  auto who = client->WhoAmI();
  ASSERT_TRUE(who.ok()) << who.error().ToString();
  EXPECT_NE(client->session()->token, first);
  // And again: the refresh token was rotated, the new one works.
  client->ExpireTokenForTesting();
  EXPECT_TRUE(client->WhoAmI().ok());
}

TEST_F(ClusterSdkTest, WrongPasswordIsUnauthenticated) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto r = client->Login("alice", "not the password at all");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(PublicErrorProblem(r.error()), "");
  // The password never appears in what the client is told.
  EXPECT_EQ(r.error().ToString().find("not the password"), std::string::npos);
}

TEST_F(ClusterSdkTest, CallsWithoutLoginAreRefusedLocally) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto r = client->Call("echo", sdk::StringArguments{}, {{"data", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(PublicReason(r), sdk::kNotLoggedIn);
}

TEST_F(ClusterSdkTest, UserCannotAdministerUsers) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Login("alice", kUserPassword).ok());
  auto r = client->CreateUser("mallory", "a long enough password");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kPermissionDenied) << r.error().ToString();
  EXPECT_EQ(PublicErrorProblem(r.error()), "");
}

TEST_F(ClusterSdkTest, GatewayOfAnotherTrustRootIsRefusedBeforeAnyCredential) {
  // A second, never-started cluster: its trust file has another attestation
  // root and manifest, so our gateway is not acceptable under it.
  TempDir other;
  auto r = RunProcess({CLOISTER_CLI_BIN, "--home", other / "home", "--json", "cluster", "init",
                       "--gateway-port", "0"},
                      std::chrono::seconds(60));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto c = sdk::Client::Connect({.gateway_address = cluster_->gateway(),
                                 .trust_path = other / "home/trust.toml",
                                 .connect_timeout = std::chrono::milliseconds(5000)});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kPermissionDenied);
  EXPECT_EQ(c.error().reason(), sdk::kGatewayAttestationRefused);
  EXPECT_NE(c.error().message().find("QUOTE_CHAIN_UNTRUSTED"), std::string::npos)
      << c.error().message();
}

TEST_F(ClusterSdkTest, NothingListeningIsUnavailable) {
  auto c = sdk::Client::Connect({.gateway_address = "127.0.0.1:1",
                                 .trust_path = cluster_->trust_path(),
                                 .connect_timeout = std::chrono::milliseconds(1000)});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kUnavailable);
  EXPECT_EQ(c.error().reason(), sdk::kGatewayUnreachable);
}

}  // namespace
}  // namespace cloister::testing
