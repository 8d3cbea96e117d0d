// Issue 9, level 1: without attestation the gateway must still be the only
// way into an internal service on the machine. The real cloister-exec at
// security level 1 accepts a grant only if it is MACed under the cluster
// secret (a 0600 file only the service accounts can read): a local process
// calling the internal port with an unsigned grant, or one MACed under a
// guessed secret, is refused by name and audited; a caller holding the
// secret (the gateway's position) is served; and a service started at
// level 1 without the secret refuses to run.
#include <gtest/gtest.h>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "tests/support/attested_node.h"

namespace cloister::testing {
namespace {

// cloister-exec takes --tasks-addr (the peer of its task worker, issue 13).
// These tests drive exec's Call only and start no cloister-tasks; nothing
// dials this address.
constexpr const char* kUnusedPeerAddr = "127.0.0.1:9";

using namespace std::chrono_literals;

class Level1GrantIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"auth", CLOISTER_AUTH_BIN},
                                                         {"exec", CLOISTER_EXEC_BIN},
                                                         {"gateway", ATTACK_AS_GATEWAY}},
        AttestedNodeOptions{.security_level = 1, .platform_binary = CLOISTER_PLATFORM_BIN});
    auto st = node_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    secret_ = node_->dir() + "/cluster.secret";
    ASSERT_TRUE(WriteFileAtomic(secret_, crypto::RandomBytes(32), 0600).ok());
    const std::string pw_file = node_->dir() + "/admin-password";
    ASSERT_TRUE(WriteFileAtomic(pw_file, std::string(kAdminPassword) + "\n", 0600).ok());
    std::string auth_port = node_->dir() + "/auth.port";
    auto a = Subprocess::Start({CLOISTER_AUTH_BIN, "--trust", node_->trust_path(), "--data-dir",
                                node_->dir() + "/auth-data", "--port-file", auth_port,
                                "--cluster-secret", secret_, "--bootstrap-admin-password-file",
                                pw_file},
                               {.log_prefix = node_->dir() + "/auth"});
    ASSERT_TRUE(a.ok());
    auth_ = std::make_unique<Subprocess>(*std::move(a));
    ASSERT_TRUE(WaitForFile(auth_port, 15s)) << auth_->Stderr();
    auth_addr_ = "127.0.0.1:" + *ReadFile(auth_port);
    std::string port_file = node_->dir() + "/exec.port";
    auto p = Subprocess::Start({CLOISTER_EXEC_BIN, "--trust", node_->trust_path(), "--data-dir",
                                node_->dir() + "/exec-data", "--port-file", port_file,
                                "--cluster-secret", secret_, "--auth-addr", auth_addr_, "--tasks-addr", kUnusedPeerAddr, "--storage-addr", kUnusedPeerAddr,
                                "--keyvault-addr", kUnusedPeerAddr, "--task-workers", "0"},
                               {.log_prefix = node_->dir() + "/exec"});
    ASSERT_TRUE(p.ok());
    exec_ = std::make_unique<Subprocess>(*std::move(p));
    ASSERT_TRUE(WaitForFile(port_file, 15s)) << exec_->Stderr();
    target_ = "127.0.0.1:" + *ReadFile(port_file);
  }
  static void TearDownTestSuite() {
    exec_.reset();
    auth_.reset();
    node_.reset();
  }

  RunResult Attack(const std::string& mode, bool with_secret) {
    std::vector<std::string> argv{ATTACK_AS_GATEWAY, "--trust", node_->trust_path(), "--role",
                                  "gateway", "--target", target_, "--mode", mode};
    // Only a holder of the secret can log in at auth, too.
    if (with_secret)
      argv.insert(argv.end(), {"--cluster-secret", secret_, "--auth", auth_addr_, "--login",
                               std::string("admin:") + kAdminPassword});
    auto r = RunProcess(argv, 30s);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunResult{};
  }

  std::string Audit() {
    auto a = ReadFile(node_->dir() + "/exec-data/audit/exec.log");
    return a.ok() ? *a : "";
  }

  static constexpr const char* kAdminPassword = "the level-1 admin's long password";
  static std::unique_ptr<AttestedNode> node_;
  static std::unique_ptr<Subprocess> auth_, exec_;
  static std::string target_, secret_, auth_addr_;
};
std::unique_ptr<Subprocess> Level1GrantIntegrationTest::auth_;
std::string Level1GrantIntegrationTest::auth_addr_;

std::unique_ptr<AttestedNode> Level1GrantIntegrationTest::node_;
std::unique_ptr<Subprocess> Level1GrantIntegrationTest::exec_;
std::string Level1GrantIntegrationTest::target_;
std::string Level1GrantIntegrationTest::secret_;

TEST_F(Level1GrantIntegrationTest, GrantMacedUnderClusterSecretRuns) {
  auto r = Attack("valid", /*with_secret=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << exec_->Stderr();
  EXPECT_NE(r.out.find("OK hello"), std::string::npos) << r.out;
}

TEST_F(Level1GrantIntegrationTest, DirectCallWithUnsignedGrantRefused) {
  auto r = Attack("valid", /*with_secret=*/false);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED 7 GRANT_MAC_INVALID"), std::string::npos) << r.out;
  EXPECT_NE(Audit().find("\"reason\":\"GRANT_MAC_INVALID\""), std::string::npos) << Audit();
}

TEST_F(Level1GrantIntegrationTest, DirectCallWithGuessedSecretRefused) {
  auto r = Attack("wrong-mac", /*with_secret=*/false);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED 7 GRANT_MAC_INVALID"), std::string::npos) << r.out;
}

// Issue 9, test 4 at level 1: even a holder of the cluster secret (the
// gateway's MAC key) cannot name a user that auth's proof does not back.
TEST_F(Level1GrantIntegrationTest, MacedGrantNamingAnotherUserThanItsProofRefused) {
  auto r = Attack("forged-principal", /*with_secret=*/true);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED 7 AUTH_PROOF_PRINCIPAL_MISMATCH"), std::string::npos) << r.out;
  auto rogue = Attack("rogue-proof", /*with_secret=*/true);
  EXPECT_NE(rogue.out.find("FAILED 7 AUTH_PROOF_INVALID"), std::string::npos) << rogue.out;
}

TEST_F(Level1GrantIntegrationTest, ServiceWithoutClusterSecretRefusesToStart) {
  auto r = RunProcess({CLOISTER_EXEC_BIN, "--trust", node_->trust_path(), "--data-dir",
                       node_->dir() + "/exec-nosecret", "--port-file",
                       node_->dir() + "/nosecret.port", "--auth-addr", auth_addr_, "--tasks-addr", kUnusedPeerAddr, "--storage-addr", kUnusedPeerAddr,
                                "--keyvault-addr", kUnusedPeerAddr, "--task-workers", "0"},
                      30s);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("needs --cluster-secret"), std::string::npos) << r->err;
}

TEST_F(Level1GrantIntegrationTest, WorldReadableClusterSecretRefused) {
  std::string loose = node_->dir() + "/loose.secret";
  ASSERT_TRUE(WriteFileAtomic(loose, crypto::RandomBytes(32), 0644).ok());
  auto r = RunProcess({CLOISTER_EXEC_BIN, "--trust", node_->trust_path(), "--data-dir",
                       node_->dir() + "/exec-loose", "--port-file", node_->dir() + "/loose.port",
                       "--cluster-secret", loose, "--auth-addr", auth_addr_, "--tasks-addr", kUnusedPeerAddr, "--storage-addr", kUnusedPeerAddr,
                                "--keyvault-addr", kUnusedPeerAddr, "--task-workers", "0"},
                      30s);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("CLUSTER_SECRET_INVALID"), std::string::npos) << r->err;
}

}  // namespace
}  // namespace cloister::testing
