// Issue 9, test 3: configuration is part of an enclave's identity. A
// genuine cloister-auth or cloister-gateway (the very binary the manifest
// measures) started with another database, another peer address, another
// policy or for another cluster instance is not the enclave the auditors
// signed:
//   - it refuses to start, naming the settings that differ
//     (CONFIG_NOT_IN_MANIFEST), because its own code checks the config it
//     computed against the manifest before it talks to anyone;
//   - and where an operator gets past that by handing it a manifest that
//     signs its configuration for another cluster (same auditors, as two
//     clusters of one organisation would share), every peer of this
//     cluster and `cloister attest` refuse it by the quoted config id.
// Before config ids, each of these was accepted as a genuine enclave.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "attestation/enclave_config.h"
#include "attestation/manifest.h"
#include "attestation/trust.h"
#include "common/crypto/keys.h"
#include "common/fs.h"
#include "sdk/cloister_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

// argv with `flag`'s value replaced (or the pair appended).
std::vector<std::string> WithFlag(std::vector<std::string> argv, const std::string& flag,
                                  const std::string& value) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  if (it != argv.end() && it + 1 != argv.end()) {
    *(it + 1) = value;
  } else {
    argv.push_back(flag);
    argv.push_back(value);
  }
  return argv;
}

// argv without `flag` and its value.
std::vector<std::string> WithoutFlag(std::vector<std::string> argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  if (it != argv.end()) argv.erase(it, it + std::min<ptrdiff_t>(2, argv.end() - it));
  return argv;
}

std::string FlagValue(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : "";
}

class ClusterConfigIdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() {
    cluster_.reset();
  }

  // The service's real command line, moved to a private data dir and port
  // so that nothing but the changed setting can make it differ... except
  // those two, which are configuration too (and named in the refusal).
  std::vector<std::string> Relocated(const std::string& svc) {
    auto argv = ReadCmdline(cluster_->ServicePid(svc));
    EXPECT_FALSE(argv.empty()) << svc << " is not running";
    // Consumed at the first `cluster up` (and not configuration).
    argv = WithoutFlag(argv, "--bootstrap-admin-password-file");
    argv = WithFlag(argv, "--data-dir", cluster_->scratch() + "/rogue-" + svc);
    argv = WithFlag(argv, "--port-file", cluster_->scratch() + "/rogue-" + svc + ".port");
    argv = WithFlag(argv, "--listen", "127.0.0.1:0");
    return argv;
  }

  static RunResult Run(const std::vector<std::string>& argv) {
    auto r = RunProcess(argv, std::chrono::seconds(60));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : RunResult{};
  }

  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterConfigIdentityTest::cluster_;

TEST_F(ClusterConfigIdentityTest, GenuineAuthWithAnotherDatabaseRefusesToStart) {
  auto argv = Relocated("auth");
  // The relocated argv alone already differs (data dir, port): the
  // refusal must name those, and the database when it is changed too.
  argv = WithFlag(argv, "--db", "sqlite://" + cluster_->scratch() + "/attacker-auth.db");
  RunResult r = Run(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("CONFIG_NOT_IN_MANIFEST"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" db"), std::string::npos) << r.err;
  // It never opened (created) the attacker's database.
  EXPECT_FALSE(FileExists(cluster_->scratch() + "/attacker-auth.db"));
}

TEST_F(ClusterConfigIdentityTest, GenuineGatewayWithAnotherPeerOrPolicyRefusesToStart) {
  {
    auto argv = WithFlag(Relocated("gateway"), "--auth-addr", "127.0.0.1:1");
    RunResult r = Run(argv);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("CONFIG_NOT_IN_MANIFEST"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("auth-addr"), std::string::npos) << r.err;
  }
  {
    // A valid policy that opens CreateUser to every user: the digest of
    // the policy in force is configuration, not the file's path.
    auto argv = Relocated("gateway");
    const std::string real_policy = FlagValue(argv, "--policy");
    ASSERT_FALSE(real_policy.empty());
    auto text = ReadFile(real_policy, 1 << 20);
    ASSERT_TRUE(text.ok());
    std::string edited = *text;
    const std::string from = "CreateUser = [\"admin\"]";
    size_t pos = edited.find(from);
    ASSERT_NE(pos, std::string::npos) << edited;
    edited.replace(pos, from.size(), "CreateUser = [\"admin\", \"user\"]");
    const std::string rogue_policy = cluster_->scratch() + "/policy.toml";
    ASSERT_TRUE(WriteFileAtomic(rogue_policy, edited, 0644).ok());
    RunResult r = Run(WithFlag(argv, "--policy", rogue_policy));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("CONFIG_NOT_IN_MANIFEST"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("policy"), std::string::npos) << r.err;
  }
  {
    // Only comments changed: the same policy, so not a reason to refuse
    // (the refusal here is for the relocated port and data dir alone).
    auto argv = Relocated("gateway");
    auto text = ReadFile(FlagValue(argv, "--policy"), 1 << 20);
    ASSERT_TRUE(text.ok());
    const std::string same_policy = cluster_->scratch() + "/policy-comment.toml";
    ASSERT_TRUE(WriteFileAtomic(same_policy, "# a comment\n" + *text, 0644).ok());
    RunResult r = Run(WithFlag(argv, "--policy", same_policy));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("differs in:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("policy"), std::string::npos) << r.err;
  }
}

// An operator with the auditors' signature on a manifest for ANOTHER
// cluster (another cluster id) starts this cluster's genuine gateway and
// auth binaries against it: they pass their own start-up check, and are
// refused by this cluster's peers and by `cloister attest`.
TEST_F(ClusterConfigIdentityTest, EnclaveSignedForAnotherClusterIsRefusedByPeersAndAttest) {
  const std::string home = cluster_->home();
  auto trust = attestation::TrustConfig::Load(cluster_->trust_path());
  ASSERT_TRUE(trust.ok()) << trust.error().ToString();
  std::vector<crypto::PrivateKey> auditors;
  for (int i = 1; i <= 2; ++i) {
    auto pem = ReadFile(home + "/auditors/auditor-" + std::to_string(i) + ".key", 1 << 16);
    ASSERT_TRUE(pem.ok());
    auto k = crypto::PrivateKey::FromPem(*pem);
    ASSERT_TRUE(k.ok());
    auditors.push_back(std::move(*k));
  }
  attestation::ManifestBody other = trust->manifest.body();
  other.set_cluster_id("another-cluster-of-the-same-auditors");
  other.clear_configs();
  auto sign = [&] {
    auto bytes = attestation::SignManifest(other, auditors);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(WriteFileAtomic(home + "/other-manifest.bin", *bytes, 0644).ok());
  };
  sign();
  auto trust_text = ReadFile(cluster_->trust_path(), 1 << 16);
  ASSERT_TRUE(trust_text.ok());
  std::string other_trust = *trust_text;
  const size_t m = other_trust.find("manifest = \"manifest.bin\"");
  ASSERT_NE(m, std::string::npos);
  other_trust.replace(m, std::string("manifest = \"manifest.bin\"").size(),
                      "manifest = \"other-manifest.bin\"");
  const std::string other_trust_path = home + "/other-trust.toml";
  ASSERT_TRUE(WriteFileAtomic(other_trust_path, other_trust, 0644).ok());

  // The other cluster's gateway, pointed at THIS cluster's auth/keyvault/exec.
  auto gw_argv = WithFlag(Relocated("gateway"), "--trust", other_trust_path);
  auto auth_argv = WithFlag(WithFlag(Relocated("auth"), "--trust", other_trust_path), "--db",
                            "sqlite://" + cluster_->scratch() + "/other-cluster-auth.db");
  for (const auto* argv : {&gw_argv, &auth_argv}) {
    std::vector<std::string> ask = *argv;
    ask.push_back("--print-config");
    RunResult r = Run(ask);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.out;
    auto* ref = other.add_configs();
    ref->set_role(j["role"].get<std::string>());
    const std::string text = j["text"].get<std::string>();
    const auto id = attestation::ConfigIdOfText(text);
    ref->set_config_id(id.data(), id.size());
    ref->set_text(text);
  }
  sign();

  auto gw = Subprocess::Start(gw_argv, {.log_prefix = cluster_->scratch() + "/rogue-gateway"});
  ASSERT_TRUE(gw.ok()) << gw.error().ToString();
  auto auth = Subprocess::Start(auth_argv, {.log_prefix = cluster_->scratch() + "/rogue-auth"});
  ASSERT_TRUE(auth.ok()) << auth.error().ToString();
  const std::string gw_port_file = FlagValue(gw_argv, "--port-file");
  const std::string auth_port_file = FlagValue(auth_argv, "--port-file");
  for (int i = 0; i < 300 && !(FileExists(gw_port_file) && FileExists(auth_port_file)); ++i) {
    ASSERT_TRUE(gw->Running()) << gw->Stderr();
    ASSERT_TRUE(auth->Running()) << auth->Stderr();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(FileExists(gw_port_file)) << gw->Stderr();
  ASSERT_TRUE(FileExists(auth_port_file)) << auth->Stderr();
  const std::string gw_addr = "127.0.0.1:" + *ReadFile(gw_port_file, 64);
  const std::string auth_addr = "127.0.0.1:" + *ReadFile(auth_port_file, 64);

  // `cloister attest` with this cluster's trust refuses both, by name.
  for (const auto& [addr, role] : {std::pair{gw_addr, std::string("gateway")},
                                   std::pair{auth_addr, std::string("auth")}}) {
    int code = 0;
    auto j = cluster_->CliJson({"attest", addr, "--role", role}, nullptr, &code);
    EXPECT_NE(code, 0) << j.dump();
    EXPECT_EQ(j.value("verdict", ""), "REFUSED") << j.dump();
    EXPECT_EQ(j.value("reason", ""), "CONFIG_NOT_IN_MANIFEST") << j.dump();
    EXPECT_NE(j.value("detail", "").find("cluster_id"), std::string::npos) << j.dump();
    // With the other cluster's trust the same endpoint is accepted: the
    // refusal above is the configuration, nothing else.
    auto ok = cluster_->CliJson({"attest", addr, "--role", role, "--trust", other_trust_path},
                                nullptr, &code);
    EXPECT_EQ(ok.value("verdict", ""), "ACCEPTED") << ok.dump();
  }

  // This cluster's auth refuses the other cluster's gateway: a login
  // through it never reaches auth, and auth audits the refused handshake.
  auto client = sdk::Client::Connect({.gateway_address = gw_addr,
                                      .trust_path = other_trust_path,
                                      .connect_timeout = std::chrono::milliseconds(10000),
                                      .call_timeout = std::chrono::milliseconds(10000)});
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  auto login = (*client)->Login("admin", cluster_->admin_password());
  EXPECT_FALSE(login.ok());
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i) {
    auto log = ReadFile(home + "/data/auth/audit/auth.log", 64 << 20);
    audited = log.ok() && log->find("CONFIG_NOT_IN_MANIFEST") != std::string::npos;
    if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(audited) << "auth did not record refusing the other cluster's gateway";
}

}  // namespace
}  // namespace cloister::testing
