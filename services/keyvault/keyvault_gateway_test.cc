// End to end through the real gateway: the SDK and the `cloister key` CLI
// reach cloister-keyvault only via cloister-gateway (--keyvault-addr), with
// real auth tokens, the policy, grants and audit on the way. Covers round
// trips, access between two real users, error reasons crossing the gateway,
// unauthenticated calls, and the CLI with --json and openssl verification.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "services/keyvault/key_ops.h"
#include "services/keyvault/testing/gateway_cluster.h"

namespace cloister::testing {
namespace {

class KeyVaultGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<GatewayCluster>(GatewayClusterBinaries{.platform = KV_PLATFORM_BIN, .auth = KV_AUTH_BIN,
                                   .exec = KV_EXEC_BIN, .keyvault = KV_KEYVAULT_BIN,
                                   .gateway = KV_GATEWAY_BIN});
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto bob = cluster_->AddUser("bob", "correct horse battery staple 42");
    ASSERT_TRUE(bob.ok()) << bob.error().ToString();
    bob_ = std::make_unique<GatewayCluster::User>(*std::move(bob));
  }
  static void TearDownTestSuite() {
    bob_.reset();
    cluster_.reset();
  }
  static std::string Reason(const Status& s) { return s.ok() ? "OK" : s.error().reason(); }

  // Runs the CLI with this suite's home; returns {exit code, stdout}.
  static RunResult Cli(const std::string& args, const std::string& stdin_text = "") {
    std::string home = cluster_->dir() + "/cli-home";
    std::string in_file = cluster_->dir() + "/cli-stdin";
    std::ofstream(in_file) << stdin_text;
    auto r = RunProcess({"/bin/sh", "-c",
                         std::string(KV_CLI_BIN) + " --home " + home + " " + args + " < " + in_file},
                        std::chrono::seconds(60));
    return r.ok() ? *r : RunResult{};
  }

  static std::unique_ptr<GatewayCluster> cluster_;
  static std::unique_ptr<GatewayCluster::User> bob_;
};

std::unique_ptr<GatewayCluster> KeyVaultGatewayTest::cluster_;
std::unique_ptr<GatewayCluster::User> KeyVaultGatewayTest::bob_;

TEST_F(KeyVaultGatewayTest, SdkRoundTripsThroughTheGateway) {
  auto& kv = cluster_->keyvault();
  ASSERT_TRUE(kv.CreateKey("gw-aes", keyvault::KEY_TYPE_AES256_GCM).ok());
  auto ct = kv.Encrypt("gw-aes", AsBytes("through the gateway"), AsBytes("file-7"));
  ASSERT_TRUE(ct.ok()) << ct.error().ToString();
  auto pt = kv.Decrypt("gw-aes", ct->ciphertext(), AsBytes("file-7"));
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(pt->plaintext(), "through the gateway");
  EXPECT_EQ(Reason(kv.Decrypt("gw-aes", ct->ciphertext(), AsBytes("file-8")).status()),
            "AEAD_AUTHENTICATION_FAILED");
  auto dk = kv.GenerateDataKey("gw-aes", AsBytes("file-9"), /*wrapped_only=*/true);
  ASSERT_TRUE(dk.ok());
  EXPECT_TRUE(dk->plaintext().empty());
  EXPECT_EQ(kv.Decrypt("gw-aes", dk->ciphertext(), AsBytes("file-9"))->plaintext().size(), 32u);

  ASSERT_TRUE(kv.CreateKey("gw-ed", keyvault::KEY_TYPE_ED25519).ok());
  auto sig = kv.Sign("gw-ed", AsBytes("m"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(*kv.Verify("gw-ed", AsBytes("m"), AsBytes(sig->signature())));
  EXPECT_FALSE(*kv.Verify("gw-ed", AsBytes("n"), AsBytes(sig->signature())));

  // Bring your own key, and read it back out (exportable).
  Bytes material = crypto::RandomBytes(32);
  auto imported = kv.ImportKey("gw-byok", keyvault::KEY_TYPE_HMAC_SHA256, material, true);
  ASSERT_TRUE(imported.ok()) << imported.error().ToString();
  auto exported = kv.ExportKey("gw-byok");
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->key_material(), ToString(material));
  auto mac = kv.Hmac("gw-byok", AsBytes("x"));
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->mac(), ToString(crypto::DigestBytes(crypto::HmacSha256(material, AsBytes("x")))));
  // Non-exportable keys stay inside.
  EXPECT_EQ(Reason(kv.ExportKey("gw-aes").status()), "KEY_NOT_EXPORTABLE");
}

TEST_F(KeyVaultGatewayTest, AnotherUserNeedsAGrant) {
  auto& alice = cluster_->keyvault();
  ASSERT_TRUE(alice.CreateKey("gw-shared", keyvault::KEY_TYPE_AES256_GCM).ok());
  auto ct = alice.Encrypt("gw-shared", AsBytes("for bob"));
  ASSERT_TRUE(ct.ok());
  // The "alice" of this suite is the admin user: bob names her key admin/gw-shared.
  EXPECT_EQ(Reason(bob_->kv->Decrypt("admin/gw-shared", ct->ciphertext()).status()),
            "KEY_NOT_FOUND");
  EXPECT_EQ(Reason(bob_->kv->DescribeKey("admin/gw-shared").status()), "KEY_NOT_FOUND");
  auto grant = alice.CreateGrant("gw-shared", bob_->user_id, {keyvault::OPERATION_DECRYPT});
  ASSERT_TRUE(grant.ok()) << grant.error().ToString();
  auto pt = bob_->kv->Decrypt("admin/gw-shared", ct->ciphertext());
  ASSERT_TRUE(pt.ok()) << pt.error().ToString();
  EXPECT_EQ(pt->plaintext(), "for bob");
  // The bare name stays bob's own (absent) key, grant or not.
  EXPECT_EQ(Reason(bob_->kv->Decrypt("gw-shared", ct->ciphertext()).status()), "KEY_NOT_FOUND");
  EXPECT_EQ(Reason(bob_->kv->Encrypt("admin/gw-shared", AsBytes("x")).status()),
            "OPERATION_NOT_GRANTED");
  EXPECT_EQ(Reason(bob_->kv->RotateKey("admin/gw-shared").status()), "NOT_KEY_OWNER");
  ASSERT_TRUE(alice.RevokeGrant("gw-shared", grant->grant_id()).ok());
  EXPECT_EQ(Reason(bob_->kv->Decrypt("admin/gw-shared", ct->ciphertext()).status()),
            "KEY_NOT_FOUND");
}

TEST_F(KeyVaultGatewayTest, UnauthenticatedCallsStopAtTheGateway) {
  auto anon = sdk::Client::Connect(cluster_->client_options());
  ASSERT_TRUE(anon.ok());
  auto kv = sdk::KeyVaultClient::Create(anon->get(), cluster_->client_options());
  ASSERT_TRUE(kv.ok());
  // The SDK refuses before sending; the gateway would answer LOGIN_REQUIRED.
  EXPECT_EQ((*kv)->ListKeys().status().code(), Code::kUnauthenticated);
}

TEST_F(KeyVaultGatewayTest, CliCoversTheKeyLifecycle) {
  auto login = Cli("login --user admin --password-stdin --gateway " + cluster_->gateway_address() +
                       " --trust " + cluster_->trust_path(),
                   cluster_->admin_password() + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;

  auto created = Cli("--json key create cli-rsa --type rsa-2048");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto meta = nlohmann::json::parse(created.out, nullptr, false);
  ASSERT_FALSE(meta.is_discarded()) << created.out;
  EXPECT_EQ(meta["name"], "cli-rsa");
  std::string pem = meta["versions"][0]["public_key_pem"];
  std::string dir = cluster_->dir();
  std::ofstream(dir + "/cli-pub.pem") << pem;
  std::ofstream(dir + "/cli-msg") << "cli message";
  auto signed_ = Cli("key sign cli-rsa --in " + dir + "/cli-msg --out " + dir + "/cli-sig");
  ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
  std::string verify = "openssl dgst -sha256 -verify " + dir +
                       "/cli-pub.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest "
                       "-signature " + dir + "/cli-sig " + dir + "/cli-msg >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  EXPECT_EQ(Cli("key verify cli-rsa --in " + dir + "/cli-msg --signature-file " + dir + "/cli-sig")
                .exit_code, 0);

  ASSERT_EQ(Cli("key create cli-aes --type aes256-gcm").exit_code, 0);
  auto enc = Cli("key encrypt cli-aes --data hello --aad a1");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  std::string ct = enc.out.substr(0, enc.out.find('\n'));
  EXPECT_EQ(ct.rfind("cloister:admin/cli-aes:v1:", 0), 0u) << ct;
  auto dec = Cli("key decrypt cli-aes --aad a1", ct + "\n");
  EXPECT_EQ(dec.out, "hello");
  auto rot = Cli("--json key rotate cli-aes");
  ASSERT_EQ(rot.exit_code, 0) << rot.err;
  EXPECT_EQ(nlohmann::json::parse(rot.out)["latest_version"], 2);
  auto rewrap = Cli("key rewrap cli-aes --aad a1 --ciphertext " + ct);
  EXPECT_EQ(rewrap.out.rfind("cloister:admin/cli-aes:v2:", 0), 0u) << rewrap.out << rewrap.err;
  auto retire = Cli("--json key rotate cli-aes --min-decryption-version 2 --retire-only");
  ASSERT_EQ(retire.exit_code, 0) << retire.err;
  EXPECT_EQ(nlohmann::json::parse(retire.out)["latest_version"], 2);
  EXPECT_NE(Cli("key decrypt cli-aes --aad a1 --ciphertext " + ct).err.find("KEY_VERSION_RETIRED"),
            std::string::npos);
  auto bad = Cli("key decrypt cli-aes --ciphertext not-a-ciphertext");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("CIPHERTEXT_MALFORMED"), std::string::npos) << bad.err;
  auto list = Cli("--json key list");
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("cli-aes"), std::string::npos);
  EXPECT_EQ(Cli("key disable cli-aes").exit_code, 0);
  EXPECT_NE(Cli("key encrypt cli-aes --data x").err.find("KEY_DISABLED"), std::string::npos);
  EXPECT_EQ(Cli("key delete cli-aes --wait-seconds 60").exit_code, 0);
  EXPECT_EQ(Cli("key delete cli-aes --cancel").exit_code, 0);
  EXPECT_NE(Cli("key export cli-aes").err.find("KEY_NOT_EXPORTABLE"), std::string::npos);
}

}  // namespace
}  // namespace cloister::testing
