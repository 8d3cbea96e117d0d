// Issue 9, test 5: the gateway follows auth's token keys. After auth
// rotates its signing key, tokens signed by the new key are accepted
// within the gateway's key-refresh period (10 s by default), tokens signed
// by the retired key keep working while auth still lists it, and once auth
// has dropped the retired key every token it signed is refused. Before the
// gateway re-fetched keys, it trusted the first key set forever: new
// tokens were refused after a rotation and a dropped (possibly leaked) key
// stayed trusted.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/fs.h"
#include "sdk/cloister_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

constexpr const char* kPassword = "dora's password is long enough";

class ClusterTokenKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ClusterFixture>();
    // Short tokens so a retired key is dropped soon; a signed setting of
    // the cluster (auth's configuration), not a flag added at restart.
    Status st = cluster_->Start([](std::string toml) {
      const std::string from = "token_lifetime_s = 900";
      if (auto pos = toml.find(from); pos != std::string::npos)
        toml.replace(pos, from.size(), "token_lifetime_s = 30");
      return toml;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    cluster_.reset();  // cluster down stops the auth we started (pid file)
  }

  std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect({.gateway_address = cluster_->gateway(),
                                   .trust_path = cluster_->trust_path(),
                                   .connect_timeout = std::chrono::milliseconds(15000)});
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Stops auth and starts it again with its own command line plus `extra`,
  // recording the new pid where `cluster down` looks for it.
  void RestartAuth(const std::vector<std::string>& extra) {
    int pid = cluster_->ServicePid("auth");
    ASSERT_GT(pid, 0);
    std::vector<std::string> argv = ReadCmdline(pid);
    ASSERT_FALSE(argv.empty());
    if (base_argv_.empty()) {
      // The one-time admin bootstrap file was consumed by `cluster up`.
      for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--bootstrap-admin-password-file" && i + 1 < argv.size()) {
          ++i;
          continue;
        }
        base_argv_.push_back(argv[i]);
      }
    }
    if (!auth_.empty()) {  // our own child: reap it
      auth_.back().Signal(SIGTERM);
      ASSERT_TRUE(auth_.back().Wait(std::chrono::seconds(15)).ok());
    } else {
      ASSERT_EQ(::kill(pid, SIGTERM), 0);
      for (int i = 0; i < 750 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string port_file = cluster_->home() + "/run/auth.port";
    ::unlink(port_file.c_str());
    argv = base_argv_;
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = Subprocess::Start(argv, {.log_prefix = cluster_->scratch() + "/auth-" +
                                                    std::to_string(restarts_++)});
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    std::ofstream(cluster_->home() + "/run/auth.pid") << p->pid() << "\n";
    auth_.push_back(std::move(*p));
    // Serving once it has written its port file again.
    ASSERT_TRUE(WaitForFile(port_file, std::chrono::seconds(30))) << auth_.back().Stderr();
  }

  // Logs in as dora until the gateway accepts the new token (or times out).
  Result<sdk::Session> LoginAccepted(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Status last = Unavailable("not tried");
    while (std::chrono::steady_clock::now() < deadline) {
      auto c = Connect();
      if (c != nullptr) {
        auto login = c->Login("dora", kPassword);
        if (login.ok()) {
          auto who = c->WhoAmI();
          if (who.ok()) return *c->session();
          last = who.status();
        } else {
          last = login.status();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return last;
  }

  Status WhoAmIWith(const sdk::Session& s) {
    auto c = Connect();
    if (c == nullptr) return Unavailable("no client");
    sdk::Session copy = s;
    copy.refresh_token.clear();  // only the access token is presented
    c->Resume(copy);
    return c->WhoAmI().status();
  }

  std::unique_ptr<ClusterFixture> cluster_;
  std::vector<std::string> base_argv_;
  std::vector<Subprocess> auth_;
  int restarts_ = 0;
};

TEST_F(ClusterTokenKeysTest, RotatedKeysAreTrustedAndDroppedKeysAreNot) {
  {
    auto admin = Connect();
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
    ASSERT_TRUE(admin->CreateUser("dora", kPassword).ok());
  }
  auto old_session = LoginAccepted(std::chrono::seconds(10));
  ASSERT_TRUE(old_session.ok()) << old_session.error().ToString();

  // Rotate (a one-shot action at start, not configuration).
  RestartAuth({"--rotate-signing-key"});
  auto fresh = LoginAccepted(std::chrono::seconds(20));
  ASSERT_TRUE(fresh.ok()) << "a token signed by the rotated-in key was never accepted: "
                          << fresh.error().ToString();
  // The retired key is still listed: its tokens still work.
  EXPECT_TRUE(WhoAmIWith(*old_session).ok());

  // Once every token the old key could have signed under the new lifetime
  // has expired (lifetime 30 s + 60 s clock skew, counted from the
  // rotation), a restarted auth no longer lists it; the gateway must drop
  // it too.
  std::this_thread::sleep_for(std::chrono::seconds(92));
  RestartAuth({});  // the same signed configuration, a fresh start
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(25);
  Status st = OkStatus();
  while (std::chrono::steady_clock::now() < deadline) {
    st = WhoAmIWith(*old_session);
    if (!st.ok() && st.error().code() != Code::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_FALSE(st.ok()) << "a token signed by a key auth dropped is still accepted";
  EXPECT_EQ(st.error().code(), Code::kUnauthenticated) << st.ToString();
  // New logins keep working throughout.
  auto after = LoginAccepted(std::chrono::seconds(20));
  EXPECT_TRUE(after.ok()) << after.error().ToString();
}

}  // namespace
}  // namespace cloister::testing
