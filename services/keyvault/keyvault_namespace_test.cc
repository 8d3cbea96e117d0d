// Issue 11 end to end, with real processes (platform, auth, exec, keyvault,
// storage, tasks and the gateway; SDK and `cloister key` CLI clients):
// key-name squatting and unconsented grants cannot make another user use
// the attacker's key. mallory creates "payroll" first and grants it to
// alice unasked; alice's "payroll" is still hers, her ciphertexts are not
// mallory's, mallory's key is reachable only as mallory/payroll within the
// grant, alice's listing shows its owner, and nobody creates in another
// user's namespace.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "services/keyvault/testing/gateway_cluster.h"

namespace cloister::testing {
namespace {

class KeyVaultNamespaceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<GatewayCluster>(GatewayClusterBinaries{
        .platform = KV_PLATFORM_BIN, .auth = KV_AUTH_BIN, .exec = KV_EXEC_BIN,
        .keyvault = KV_KEYVAULT_BIN, .gateway = KV_GATEWAY_BIN});
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (auto [name, slot] : {std::pair{"alice", &alice_}, std::pair{"mallory", &mallory_}}) {
      auto u = cluster_->AddUser(name, std::string(name) + " has a long password 42");
      ASSERT_TRUE(u.ok()) << u.error().ToString();
      *slot = std::make_unique<GatewayCluster::User>(*std::move(u));
    }
  }
  static void TearDownTestSuite() {
    alice_.reset();
    mallory_.reset();
    cluster_.reset();
  }
  static std::string Reason(const Status& s) { return s.ok() ? "OK" : s.error().reason(); }

  // The CLI, logged in as `user`, in its own home; returns {exit code, stdout}.
  static RunResult Cli(const std::string& user, const std::string& args,
                       const std::string& stdin_text = "") {
    std::string home = cluster_->dir() + "/cli-" + user;
    std::string in_file = cluster_->dir() + "/cli-stdin-" + user;
    std::ofstream(in_file) << stdin_text;
    auto r = RunProcess({"/bin/sh", "-c",
                         std::string(KV_CLI_BIN) + " --home " + home + " " + args + " < " + in_file},
                        std::chrono::seconds(60));
    return r.ok() ? *r : RunResult{};
  }

  static std::unique_ptr<GatewayCluster> cluster_;
  static std::unique_ptr<GatewayCluster::User> alice_, mallory_;
};

std::unique_ptr<GatewayCluster> KeyVaultNamespaceTest::cluster_;
std::unique_ptr<GatewayCluster::User> KeyVaultNamespaceTest::alice_;
std::unique_ptr<GatewayCluster::User> KeyVaultNamespaceTest::mallory_;

TEST_F(KeyVaultNamespaceTest, SquattingAndUnconsentedGrantsCannotMakeAnotherUserUseTheAttackersKey) {
  auto& alice = *alice_->kv;
  auto& mallory = *mallory_->kv;

  // The attack: mallory takes the name first and grants it to alice, unasked.
  ASSERT_TRUE(mallory.CreateKey("payroll", keyvault::KEY_TYPE_AES256_GCM).ok());
  auto grant = mallory.CreateGrant("payroll", alice_->user_id,
                                   {keyvault::OPERATION_ENCRYPT, keyvault::OPERATION_DECRYPT});
  ASSERT_TRUE(grant.ok()) << grant.error().ToString();
  // A careless client of alice's that encrypts under "payroll" before she
  // made it fails instead of using mallory's key.
  EXPECT_EQ(Reason(alice.Encrypt("payroll", AsBytes("salary")).status()), "KEY_NOT_FOUND");

  // alice still creates her own "payroll".
  auto mine = alice.CreateKey("payroll", keyvault::KEY_TYPE_AES256_GCM);
  ASSERT_TRUE(mine.ok()) << mine.error().ToString();
  EXPECT_EQ(mine->full_name(), "alice/payroll");
  EXPECT_EQ(mine->owner_user_id(), alice_->user_id);

  // "payroll" is alice's key: mallory cannot decrypt what alice encrypts.
  auto ct = alice.Encrypt("payroll", AsBytes("salary"), AsBytes("2024-06"));
  ASSERT_TRUE(ct.ok()) << ct.error().ToString();
  EXPECT_EQ(ct->ciphertext().rfind("cloister:alice/payroll:v1:", 0), 0u) << ct->ciphertext();
  auto back = alice.Decrypt("payroll", ct->ciphertext(), AsBytes("2024-06"));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->plaintext(), "salary");
  EXPECT_EQ(Reason(mallory.Decrypt("payroll", ct->ciphertext(), AsBytes("2024-06")).status()),
            "CIPHERTEXT_KEY_MISMATCH");
  EXPECT_EQ(Reason(mallory.Decrypt("alice/payroll", ct->ciphertext(), AsBytes("2024-06")).status()),
            "KEY_NOT_FOUND");
  std::string forged = ct->ciphertext();
  forged.replace(0, std::string("cloister:alice").size(), "cloister:mallory");
  EXPECT_EQ(Reason(mallory.Decrypt("payroll", forged, AsBytes("2024-06")).status()),
            "AEAD_AUTHENTICATION_FAILED");

  // mallory's key: only as mallory/payroll, and only within the grant.
  auto theirs = alice.Encrypt("mallory/payroll", AsBytes("to mallory"));
  ASSERT_TRUE(theirs.ok()) << theirs.error().ToString();
  EXPECT_EQ(theirs->ciphertext().rfind("cloister:mallory/payroll:v1:", 0), 0u);
  EXPECT_EQ(Reason(alice.Decrypt("payroll", theirs->ciphertext()).status()),
            "CIPHERTEXT_KEY_MISMATCH");
  EXPECT_EQ(Reason(alice.Rewrap("mallory/payroll", theirs->ciphertext()).status()),
            "OPERATION_NOT_GRANTED");
  EXPECT_EQ(Reason(alice.RotateKey("mallory/payroll").status()), "NOT_KEY_OWNER");
  EXPECT_EQ(Reason(alice.ExportKey("mallory/payroll").status()), "OPERATION_NOT_GRANTED");

  // alice's listing shows the granted key with its owner.
  auto keys = alice.ListKeys();
  ASSERT_TRUE(keys.ok()) << keys.error().ToString();
  bool saw_mine = false, saw_granted = false;
  for (const auto& k : *keys) {
    if (k.full_name() == "alice/payroll") {
      saw_mine = true;
      EXPECT_EQ(k.owner_username(), "alice");
    } else if (k.full_name() == "mallory/payroll") {
      saw_granted = true;
      EXPECT_EQ(k.owner_username(), "mallory");
      EXPECT_EQ(k.owner_user_id(), mallory_->user_id);
    }
  }
  EXPECT_TRUE(saw_mine);
  EXPECT_TRUE(saw_granted);
  auto owned = alice.ListKeys(/*owned_only=*/true);
  ASSERT_TRUE(owned.ok());
  ASSERT_EQ(owned->size(), 1u);
  EXPECT_EQ((*owned)[0].full_name(), "alice/payroll");

  // The CLI says the same: OWNER column, and the name to type.
  auto login = Cli("alice", "login --user alice --password-stdin --gateway " +
                                cluster_->gateway_address() + " --trust " + cluster_->trust_path(),
                   "alice has a long password 42\n");
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  auto ls = Cli("alice", "key ls");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("OWNER"), std::string::npos) << ls.out;
  bool cli_granted_row = false;
  std::istringstream lines(ls.out);
  for (std::string line; std::getline(lines, line);)
    if (line.find("mallory/payroll") != std::string::npos &&
        line.find(" mallory ") != std::string::npos)
      cli_granted_row = true;
  EXPECT_TRUE(cli_granted_row) << ls.out;
  auto cli_ct = Cli("alice", "key encrypt payroll --data hello");
  ASSERT_EQ(cli_ct.exit_code, 0) << cli_ct.err;
  EXPECT_EQ(cli_ct.out.rfind("cloister:alice/payroll:v1:", 0), 0u) << cli_ct.out;

  // Nobody creates (or imports) in another user's namespace.
  EXPECT_EQ(Reason(mallory.CreateKey("alice/anything", keyvault::KEY_TYPE_AES256_GCM).status()),
            "KEY_NAME_QUALIFIED");
  EXPECT_EQ(Reason(mallory.CreateKey("alice/payroll", keyvault::KEY_TYPE_AES256_GCM).status()),
            "KEY_NAME_QUALIFIED");
  EXPECT_EQ(Reason(mallory.ImportKey("alice/imported", keyvault::KEY_TYPE_HMAC_SHA256,
                                     crypto::RandomBytes(32))
                       .status()),
            "KEY_NAME_QUALIFIED");
  EXPECT_EQ(Reason(mallory.Encrypt("alice/payroll", AsBytes("x")).status()), "KEY_NOT_FOUND");

  // Revoking ends alice's access to mallory's key; her own is untouched.
  ASSERT_TRUE(mallory.RevokeGrant("payroll", grant->grant_id()).ok());
  EXPECT_EQ(Reason(alice.Encrypt("mallory/payroll", AsBytes("x")).status()), "KEY_NOT_FOUND");
  EXPECT_TRUE(alice.Encrypt("payroll", AsBytes("still mine")).ok());
}

}  // namespace
}  // namespace cloister::testing
