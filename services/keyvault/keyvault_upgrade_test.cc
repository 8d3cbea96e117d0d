// Issue 9, svn and sealing: the key vault's material survives a rebuild
// through the MRSIGNER upgrade path and never opens in an older release.
// Real cloister-keyvault processes on the real platform daemon; three
// "releases" of the key vault, each a different binary (so a different
// measurement, as after a rebuild) in one auditor-signed manifest:
//   v2  the current build           svn 2   seals the material
//   v3  a later release (rebuilt)   svn 3   must open it      (upgrade)
//   v1  an earlier release          svn 1   must not open it  (downgrade)
// and with the manifest's minimum raised to 2, v1 refuses to run at all.
// This test process is the "gateway" role, signing grants as the gateway.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "attestation/enclave.h"
#include "common/fs.h"
#include "common/grpc_status.h"
#include "proto/keyvault.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "tests/support/attested_node.h"
#include "tests/support/gateway_sessions.h"

namespace cloister::testing {
namespace {

using namespace std::chrono_literals;

std::string SelfExe() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// A copy of the key-vault binary with `extra` bytes appended: the same code,
// a new measurement (a stand-in for a rebuild of another release).
std::string Release(const TempDir& dir, const std::string& name, size_t extra) {
  auto bytes = ReadFile(CLOISTER_KEYVAULT_BIN, 1u << 30);
  EXPECT_TRUE(bytes.ok());
  std::string b = bytes.ok() ? *bytes : "";
  b.append(extra, '\0');
  std::string path = dir / name;
  EXPECT_TRUE(WriteFileAtomic(path, b, 0755).ok());
  return path;
}

class KeyVaultUpgradeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bins_ = std::make_unique<TempDir>();
    ::chmod(bins_->path().c_str(), 0755);
    v3_ = Release(*bins_, "cloister-keyvault-v3", 1);
    v1_ = Release(*bins_, "cloister-keyvault-v1", 2);
    node_ = std::make_unique<AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"keyvault", CLOISTER_KEYVAULT_BIN},
                                                         {"keyvault", v3_},
                                                         {"keyvault", v1_},
                                                         {"gateway", SelfExe()}, {"auth", CLOISTER_AUTH_BIN}},
        AttestedNodeOptions{.platform_binary = CLOISTER_PLATFORM_BIN, .svns = {2, 3, 1, 1}});
    auto st = node_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto e = attestation::Enclave::Start({.role = "gateway", .trust_path = node_->trust_path()});
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = *std::move(e);
    // The key vault checks every request's auth proof with the real auth's keys.
    auto a = RealAuth::Start(*node_, CLOISTER_AUTH_BIN, enclave_.get());
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    auth_ = *std::move(a);
  }
  static void TearDownTestSuite() {
    auth_.reset();
    enclave_.reset();
    node_.reset();
    bins_.reset();
  }

  // Starts `bin` on data dir `data` (and the store at `db` if given).
  void StartVault(const std::string& bin, const std::string& data, const std::string& db = "") {
    std::string port_file = node_->dir() + "/kv-" + std::to_string(counter_++) + ".port";
    std::vector<std::string> argv{bin, "--trust", node_->trust_path(), "--data-dir", data,
                                  "--port-file", port_file, "--auth-addr", auth_->address()};
    if (!db.empty()) argv.insert(argv.end(), {"--db", db});
    auto p = Subprocess::Start(argv, {.log_prefix = port_file + ".log"});
    ASSERT_TRUE(p.ok());
    kv_.reset();
    kv_ = std::make_unique<Subprocess>(*std::move(p));
    ASSERT_TRUE(WaitForFile(port_file, 15s)) << kv_->Stderr();
    stub_ = keyvault::KeyVault::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + *ReadFile(port_file), enclave_->ChannelCredentials({"keyvault"})));
  }

  template <typename Req, typename Resp>
  Status Call(const std::string& method, const Req& req, Resp* resp,
              grpc::Status (keyvault::KeyVault::Stub::*fn)(grpc::ClientContext*,
                                                                  const Req&, Resp*)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    CLOISTER_ASSIGN_OR_RETURN(UserSession alice, auth_->User("u-alice"));
    CLOISTER_RETURN_IF_ERROR(services::AttachGrant(
        ctx, *enclave_, "keyvault", req, "/cloister.keyvault.KeyVault/" + method, GrantFor(alice)));
    return FromGrpcStatus(((*stub_).*fn)(&ctx, req, resp));
  }

  Result<std::string> Decrypt(const std::string& ciphertext) {
    keyvault::DecryptRequest d;
    d.set_name("upgrade-aes");
    d.set_ciphertext(ciphertext);
    keyvault::DecryptResponse dr;
    CLOISTER_RETURN_IF_ERROR(Call("Decrypt", d, &dr, &keyvault::KeyVault::Stub::Decrypt));
    return dr.plaintext();
  }

  static std::unique_ptr<TempDir> bins_;
  static std::string v3_, v1_;
  static std::unique_ptr<AttestedNode> node_;
  static std::unique_ptr<attestation::Enclave> enclave_;
  static std::unique_ptr<RealAuth> auth_;
  static int counter_;
  std::unique_ptr<Subprocess> kv_;
  std::unique_ptr<keyvault::KeyVault::Stub> stub_;
};

std::unique_ptr<TempDir> KeyVaultUpgradeTest::bins_;
std::string KeyVaultUpgradeTest::v3_, KeyVaultUpgradeTest::v1_;
std::unique_ptr<AttestedNode> KeyVaultUpgradeTest::node_;
std::unique_ptr<attestation::Enclave> KeyVaultUpgradeTest::enclave_;
std::unique_ptr<RealAuth> KeyVaultUpgradeTest::auth_;
int KeyVaultUpgradeTest::counter_ = 0;

TEST_F(KeyVaultUpgradeTest, UpgradeOpensOldMaterialDowngradeDoesNot) {
  const std::string data = node_->dir() + "/kv-data";
  const std::string db = "sqlite://" + data + "/keyvault.db";

  // v2 creates a key and encrypts with it.
  StartVault(CLOISTER_KEYVAULT_BIN, data);
  keyvault::CreateKeyRequest cr;
  cr.set_name("upgrade-aes");
  cr.set_type(keyvault::KEY_TYPE_AES256_GCM);
  keyvault::CreateKeyResponse crr;
  ASSERT_TRUE(Call("CreateKey", cr, &crr, &keyvault::KeyVault::Stub::CreateKey).ok());
  keyvault::EncryptRequest e;
  e.set_name("upgrade-aes");
  e.set_plaintext("sealed before the upgrade");
  keyvault::EncryptResponse er;
  auto st = Call("Encrypt", e, &er, &keyvault::KeyVault::Stub::Encrypt);
  ASSERT_TRUE(st.ok()) << st.ToString();
  kv_.reset();

  // v3 (rebuilt, svn 3) on the same data dir opens v2's key material (and
  // v2's MRSIGNER-sealed audit key).
  StartVault(v3_, data);
  auto up = Decrypt(er.ciphertext());
  ASSERT_TRUE(up.ok()) << up.error().ToString() << kv_->Stderr();
  EXPECT_EQ(*up, "sealed before the upgrade");
  kv_.reset();

  // v1 (svn 1) on the same store: the platform refuses it the svn-2 keys.
  // Since the store's rows are MACed under an MRSIGNER-sealed key (row
  // integrity), the refusal comes at start, before any request: v1 cannot
  // open the store at all.
  auto down = RunProcess({v1_, "--trust", node_->trust_path(), "--data-dir",
                          node_->dir() + "/kv-v1-data", "--port-file",
                          node_->dir() + "/kv-v1.port", "--auth-addr", auth_->address(), "--db", db},
                         30s);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->exit_code, 2) << down->err;
  EXPECT_NE(down->err.find("SEAL_SVN_TOO_HIGH"), std::string::npos) << down->err;
}

TEST_F(KeyVaultUpgradeTest, ReleaseBelowManifestMinimumRefusesToRun) {
  attestation::ManifestBody body = node_->manifest_body();
  for (auto& entry : *body.mutable_entries())
    if (entry.name() == "keyvault") entry.set_min_svn(2);
  ASSERT_TRUE(node_->WriteManifest("manifest-min2.bin", body, 2).ok());
  auto trust = node_->WriteTrustVariant("trust-min2.toml", "manifest-min2.bin", 2, 600);
  ASSERT_TRUE(trust.ok());
  auto r = RunProcess({v1_, "--trust", *trust, "--data-dir", node_->dir() + "/kv-min-data",
                       "--port-file", node_->dir() + "/kv-min.port", "--auth-addr",
                       auth_->address()},
                      30s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2) << r->err;
  EXPECT_NE(r->err.find("ENCLAVE_SVN_TOO_LOW"), std::string::npos) << r->err;
}

}  // namespace
}  // namespace cloister::testing
