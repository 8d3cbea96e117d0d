// Issue 11, must-be-true 1, on a real cluster: after traffic and a clean
// `cluster down`, the gateway's real audit files are tampered with in each
// way — an edited entry, a deleted entry, a reordered pair, a cut tail, the
// whole log rewritten with a recomputed chain (with and without a key of the
// attacker's own) — and `cloister audit verify --json` names each.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "common/crypto/hash.h"
#include "common/crypto/x509.h"
#include "common/fs.h"
#include "services/common/audit_format.h"
#include "services/common/audit_signer.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

const std::string kBobPassword = "bob's long password for the audit test";

std::vector<std::string> LinesOf(const std::string& path) {
  std::vector<std::string> out;
  auto text = ReadFile(path, 1ull << 30);
  EXPECT_TRUE(text.ok()) << path << ": " << text.error().ToString();
  if (!text.ok()) return out;
  std::istringstream in(*text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  ASSERT_TRUE(WriteFileAtomic(path, s, 0600).ok());
}
bool IsEntry(const std::string& line) { return line.find("\"kind\"") == std::string::npos; }

// The attacker who can write the files: recomputes seq, prev, hash (and the
// checkpoints' entry counts); with its own key it also replaces every
// signer's certificate and re-signs every checkpoint.
std::vector<std::string> Rechain(const std::vector<std::string>& lines,
                                 const crypto::PrivateKey* key, const crypto::Certificate* cert) {
  std::vector<std::string> out;
  std::string prev;
  uint64_t seq = 0, entries = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    ordered_json j = ordered_json::parse(lines[i]);
    const std::string kind = j.value("kind", "");
    if (i == 0) {
      prev = j["prev"].get<std::string>();
      seq = j["seq"].get<uint64_t>();
    }
    j["seq"] = seq++;
    if (kind == "segment") entries = 0;
    if (kind.empty()) ++entries;
    if (kind == "checkpoint") j["seg_entries"] = entries;
    const std::string mac = j.value("mac", "");
    j.erase("prev");
    j.erase("mac");
    j.erase("hash");
    if (key != nullptr && kind == "signer") {
      j["key_id"] = services::AuditKeyId(key->public_key());
      j["cert"] = Base64Encode(cert->Der());
    }
    if (key != nullptr && kind == "checkpoint") {
      services::AuditLine cp;
      cp.service = j["service"].get<std::string>();
      cp.segment = j["segment"].get<uint64_t>();
      cp.seq = j["seq"].get<uint64_t>();
      cp.ts_ms = j["ts_ms"].get<int64_t>();
      cp.why = j["why"].get<std::string>();
      cp.final = j["final"].get<bool>();
      cp.seg_entries = j["seg_entries"].get<uint64_t>();
      cp.signer = services::AuditKeyId(key->public_key());
      cp.prev = prev;
      cp.prev_mac = j["prev_mac"].get<std::string>();
      j["signer"] = cp.signer;
      j["sig"] = Base64Encode(*key->Sign(AsBytes(services::CheckpointStatement(cp))));
    }
    std::string s = j.dump();
    s.pop_back();
    s += ",\"prev\":\"" + prev + "\"";
    if (!mac.empty()) s += ",\"mac\":\"" + mac + "\"";
    const std::string hash = HexEncode(crypto::Sha256(prev + "\n" + s + "}"));
    s += ",\"hash\":\"" + hash + "\"}";
    prev = hash;
    out.push_back(s);
  }
  return out;
}

class ClusterAuditTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    // Traffic: logins allowed and refused, a user added, calls.
    std::string pw = cluster_->admin_password();
    ASSERT_EQ(cluster_->Cli({"login", "--user", "admin", "--password-stdin"}, &pw).exit_code, 0);
    ASSERT_EQ(cluster_->Cli({"user", "add", "bob", "--password-stdin"}, &kBobPassword).exit_code, 0);
    const std::string wrong = "not bob's password";
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(cluster_->Cli({"login", "--user", "bob", "--password-stdin"}, &wrong).exit_code, 0);
      EXPECT_EQ(cluster_->Cli({"login", "--user", "bob", "--password-stdin"}, &kBobPassword).exit_code, 0);
    }
    // A clean shutdown: every log ends with its final, signed checkpoint.
    st = cluster_->Down();
    ASSERT_TRUE(st.ok()) << st.ToString();
    fs::create_directories(Pristine());
    for (const auto& e : fs::directory_iterator(AuditDir()))
      if (fs::is_regular_file(e.symlink_status()))
        fs::copy(e.path(), Pristine() + "/" + e.path().filename().string());
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  // Each test starts from the untouched files.
  void SetUp() override {
    for (const auto& e : fs::directory_iterator(Pristine()))
      fs::copy(e.path(), AuditDir() + "/" + e.path().filename().string(),
               fs::copy_options::overwrite_existing);
  }

  static std::string AuditDir() { return cluster_->home() + "/data/gateway/audit"; }
  static std::string Pristine() { return cluster_->scratch() + "/pristine-gateway-audit"; }
  static std::string Segment() { return AuditDir() + "/gateway.log.000001"; }

  // `cloister audit verify --json`: the exit code and the gateway's report.
  static nlohmann::json VerifyGateway(int* code) {
    auto j = cluster_->CliJson({"audit", "verify"}, nullptr, code);
    EXPECT_TRUE(j.contains("files")) << j.dump();
    if (!j.contains("files")) return {};
    nlohmann::json gw;
    for (const auto& f : j["files"]) {
      if (f.value("service", "") == "gateway") gw = f;
      else EXPECT_TRUE(f.value("ok", false)) << f.dump();  // the others are untouched
    }
    EXPECT_FALSE(gw.is_null()) << j.dump();
    return gw;
  }
  static void ExpectNamed(const std::string& reason, int64_t line = -2) {
    int code = -1;
    auto gw = VerifyGateway(&code);
    EXPECT_EQ(code, 1) << gw.dump();
    EXPECT_FALSE(gw.value("ok", true)) << gw.dump();
    EXPECT_EQ(gw.value("reason", ""), reason) << gw.dump();
    if (line != -2) {
      EXPECT_EQ(gw.value("line", int64_t{-9}), line) << gw.dump();
      EXPECT_EQ(gw.value("bad_file", ""), Segment()) << gw.dump();
    }
    // The plain output names it too.
    RunResult r = cluster_->Cli({"audit", "verify"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  }
  // Index of the n-th entry line.
  static size_t NthEntry(const std::vector<std::string>& lines, int n) {
    for (size_t i = 0; i < lines.size(); ++i)
      if (IsEntry(lines[i]) && n-- == 0) return i;
    ADD_FAILURE() << "too few entries";
    return 0;
  }

  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterAuditTest::cluster_;

TEST_F(ClusterAuditTest, UntouchedLogsVerifySignedAndClosed) {
  int code = -1;
  auto j = cluster_->CliJson({"audit", "verify"}, nullptr, &code);
  ASSERT_EQ(code, 0) << j.dump();
  ASSERT_GE(j["files"].size(), 3u);
  for (const auto& f : j["files"]) {
    EXPECT_TRUE(f["ok"].get<bool>()) << f.dump();
    EXPECT_TRUE(f["signatures_checked"].get<bool>()) << f.dump();
    EXPECT_TRUE(f["closed"].get<bool>()) << f.dump();
    EXPECT_EQ(f["head"], "matched") << f.dump();
    EXPECT_EQ(f["unsigned_tail_lines"], 0) << f.dump();
    EXPECT_GE(f["checkpoints"].get<int>(), 2) << f.dump();
  }
  EXPECT_TRUE(fs::is_symlink(AuditDir() + "/gateway.log"));
  EXPECT_GE(LinesOf(Segment()).size(), 8u);
}

TEST_F(ClusterAuditTest, EditedEntryIsNamed) {
  auto lines = LinesOf(Segment());
  const size_t i = NthEntry(lines, 2);
  auto& l = lines[i];
  if (auto pos = l.find("\"allow\""); pos != std::string::npos) l.replace(pos, 7, "\"deny\" ");
  else l.replace(l.find("\"deny\""), 6, "\"allow\"");
  WriteLines(Segment(), lines);
  ExpectNamed("AUDIT_ENTRY_EDITED", static_cast<int64_t>(i) + 1);
}

TEST_F(ClusterAuditTest, DeletedEntryIsNamed) {
  auto lines = LinesOf(Segment());
  const size_t i = NthEntry(lines, 3);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
  WriteLines(Segment(), lines);
  ExpectNamed("AUDIT_ENTRY_DELETED", static_cast<int64_t>(i) + 1);
}

TEST_F(ClusterAuditTest, ReorderedPairIsNamed) {
  auto lines = LinesOf(Segment());
  const size_t i = NthEntry(lines, 2);
  std::swap(lines[i], lines[i + 1]);
  WriteLines(Segment(), lines);
  ExpectNamed("AUDIT_REORDERED", static_cast<int64_t>(i) + 1);
}

TEST_F(ClusterAuditTest, RewriteWithARecomputedChainIsNamed) {
  // Drop an entry and renumber and rechain everything after it: every
  // hash links, but no checkpoint signature can be recomputed.
  auto lines = LinesOf(Segment());
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(NthEntry(lines, 1)));
  WriteLines(Segment(), Rechain(lines, nullptr, nullptr));
  ExpectNamed("AUDIT_REWRITTEN");
  int code = -1;
  auto gw = VerifyGateway(&code);
  auto reasons = gw.value("reasons", std::vector<std::string>{});
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "AUDIT_CHECKPOINT_SIGNATURE_INVALID"),
            reasons.end())
      << gw.dump();
}

TEST_F(ClusterAuditTest, RewriteUnderTheAttackersOwnKeyIsNamed) {
  // The thorough attacker: its own key and certificate in every signer
  // line, every checkpoint and the head re-signed. The chain is perfect;
  // the key is not an attested gateway of this cluster.
  auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  crypto::CertOptions o;
  o.common_name = "gateway";
  o.not_after = time(nullptr) + 3600;
  auto cert = *crypto::Certificate::Create(o, key.public_key(), key, nullptr);
  auto lines = LinesOf(Segment());
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(NthEntry(lines, 1)));
  auto forged = Rechain(lines, &key, &cert);
  WriteLines(Segment(), forged);
  std::string signer, last_cp;
  for (const auto& l : forged) {
    if (l.find("\"kind\":\"signer\"") != std::string::npos) signer = l;
    if (l.find("\"kind\":\"checkpoint\"") != std::string::npos) last_cp = l;
  }
  ASSERT_TRUE(WriteFileAtomic(AuditDir() + "/gateway.log.head", signer + "\n" + last_cp + "\n", 0600).ok());
  ExpectNamed("AUDIT_SIGNER_UNTRUSTED", 2);
}

// Re-signing the manifest (here: a changed auth setting) must not turn the
// earlier runs' certificates untrusted: each service keeps the manifest it
// ran under beside its log, and verify judges old certificates by it.
TEST_F(ClusterAuditTest, ReSignedManifestKeepsEarlierRunsVerifiable) {
  const std::string toml_path = cluster_->home() + "/cluster.toml";
  auto toml = ReadFile(toml_path, 1 << 20);
  ASSERT_TRUE(toml.ok());
  const std::string from = "token_lifetime_s = 900";
  auto pos = toml->find(from);
  ASSERT_NE(pos, std::string::npos) << *toml;
  std::string edited = *toml;
  edited.replace(pos, from.size(), "token_lifetime_s = 600");
  ASSERT_TRUE(WriteFileAtomic(toml_path, edited, 0644).ok());
  int code = -1;
  auto m = cluster_->CliJson({"cluster", "manifest"}, nullptr, &code);
  ASSERT_EQ(code, 0) << m.dump();
  const std::string kept = cluster_->home() + "/data/auth/audit/manifests";
  EXPECT_FALSE(fs::is_empty(kept));
  auto j = cluster_->CliJson({"audit", "verify"}, nullptr, &code);
  EXPECT_EQ(code, 0) << j.dump();
  // Without the kept manifest auth's earlier certificate is not one the
  // current manifest signs (its configuration changed).
  fs::rename(kept, kept + ".away");
  RunResult r = cluster_->Cli({"audit", "verify", "--service", "auth"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AUDIT_SIGNER_UNTRUSTED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CONFIG_NOT_IN_MANIFEST"), std::string::npos) << r.err;
  fs::rename(kept + ".away", kept);
}

// Last: it restarts the cluster on the cut log.
TEST_F(ClusterAuditTest, CutTailIsNamedAndTheServiceRefusesIt) {
  auto lines = LinesOf(Segment());
  lines.resize(lines.size() - 3);  // the final checkpoint and the entries before it
  WriteLines(Segment(), lines);
  ExpectNamed("AUDIT_TRUNCATED");
  // The gateway itself refuses to append to it (its head, MAC'd under its
  // sealed chain key, records more).
  RunResult up = cluster_->Cli({"cluster", "up"});
  EXPECT_NE(up.exit_code, 0) << up.out;
  EXPECT_NE((up.out + up.err).find("AUDIT_TRUNCATED"), std::string::npos) << up.out << up.err;
  (void)cluster_->Down();
}

}  // namespace
}  // namespace cloister::testing
