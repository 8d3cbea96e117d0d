// The `cloister` CLI against a real cluster: login, user administration, a
// one-shot echo call, attestation of the gateway, and the audit trail
// (`audit verify` passes, and names the entry after an edit, a deletion or
// a reorder of one line in a copy of a log).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/fs.h"
#include "services/topology/service_spec.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

const std::string kBobPassword = "bob's long password 42";

class ClusterCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::string pw = cluster_->admin_password();
    RunResult r = cluster_->Cli({"login", "--user", "admin", "--password-stdin"}, &pw);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = cluster_->Cli({"user", "add", "bob", "--password-stdin"}, &kBobPassword);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static void LoginBob() {
    RunResult r = cluster_->Cli({"login", "--user", "bob", "--password-stdin"}, &kBobPassword);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static std::vector<std::string> AuditLogs() {
    std::vector<std::string> out;
    auto j = cluster_->CliJson({"audit", "verify"});
    if (j.contains("files"))
      for (const auto& f : j["files"]) out.push_back(f["file"].get<std::string>());
    return out;
  }
  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterCliTest::cluster_;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}
std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST_F(ClusterCliTest, StatusShowsEveryServiceHealthy) {
  auto j = cluster_->CliJson({"cluster", "status"});
  ASSERT_TRUE(j.contains("services")) << j.dump();
  // Every service of the topology table, in its order.
  ASSERT_EQ(j["services"].size(), topology::Topology().size()) << j.dump();
  size_t i = 0;
  for (const auto& s : j["services"]) {
    EXPECT_EQ(s.value("name", ""), std::string(topology::Topology()[i++].name)) << s.dump();
    EXPECT_TRUE(s["running"].get<bool>()) << s.dump();
    EXPECT_TRUE(s["healthy"].get<bool>()) << s.dump();
  }
}

TEST_F(ClusterCliTest, UserLogsInAndCallsEcho) {
  LoginBob();
  auto who = cluster_->CliJson({"whoami"});
  EXPECT_EQ(who.value("username", ""), "bob") << who.dump();

  std::string input = cluster_->scratch() + "/input.txt";
  ASSERT_TRUE(WriteFileAtomic(input, std::string("through the gateway\n"), 0600).ok());
  int code = -1;
  auto j = cluster_->CliJson({"call", "echo", "--input", "data=" + input}, nullptr, &code);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["outputs"]["data"]["text"], "through the gateway\n");

  // Binary outputs land in files, never on the terminal.
  std::string bin = cluster_->scratch() + "/input.bin";
  ASSERT_TRUE(WriteFileAtomic(bin, std::string("\x00\x01\xfe", 3), 0600).ok());
  std::string out_dir = cluster_->scratch() + "/out";
  j = cluster_->CliJson({"call", "echo", "--input", "data=" + bin, "--output-dir", out_dir},
                        nullptr, &code);
  ASSERT_EQ(code, 0) << j.dump();
  auto written = ReadFile(out_dir + "/data");
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, std::string("\x00\x01\xfe", 3));
}

TEST_F(ClusterCliTest, SessionFileIsPrivate) {
  LoginBob();
  EXPECT_TRUE(CheckPrivateFile(cluster_->home() + "/session.json").ok());
  auto text = ReadFile(cluster_->home() + "/session.json");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find(kBobPassword), std::string::npos);
}

TEST_F(ClusterCliTest, WrongPasswordFailsClearly) {
  std::string wrong = "definitely wrong password";
  RunResult r = cluster_->Cli({"login", "--user", "bob", "--password-stdin"}, &wrong);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(wrong), std::string::npos);
  EXPECT_EQ(InternalDetailText(r.err), "") << r.err;  // issue 11
}

TEST_F(ClusterCliTest, AttestGatewayAcceptsAndExports) {
  std::string pem = cluster_->scratch() + "/gateway.pem";
  int code = -1;
  auto j = cluster_->CliJson({"attest", "gateway", "--export", pem}, nullptr, &code);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j["verdict"], "ACCEPTED");
  EXPECT_EQ(j["role"], "gateway");
  EXPECT_EQ(j["quote"]["enclave_name"], "gateway");
  EXPECT_FALSE(j["quote"]["debug"].get<bool>());
  auto text = ReadFile(pem);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST_F(ClusterCliTest, AttestUnderAnotherClusterTrustIsRefusedWithReason) {
  TempDir other;
  auto init = RunProcess({CLOISTER_CLI_BIN, "--home", other / "home", "cluster", "init",
                          "--gateway-port", "0"},
                         std::chrono::seconds(60));
  ASSERT_TRUE(init.ok());
  ASSERT_EQ(init->exit_code, 0);
  RunResult r = cluster_->Cli({"attest", "gateway", "--trust", other / "home/trust.toml",
                               "--export", other / "pinned.pem"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("REFUSED (QUOTE_CHAIN_UNTRUSTED)"), std::string::npos) << r.out;
  EXPECT_FALSE(FileExists(other / "pinned.pem"));
}

TEST_F(ClusterCliTest, AuditShowAndVerify) {
  LoginBob();
  auto show = cluster_->CliJson({"audit", "show", "--service", "gateway"});
  ASSERT_TRUE(show.is_array()) << show.dump();
  EXPECT_GT(show.size(), 0u);
  int code = -1;
  auto v = cluster_->CliJson({"audit", "verify"}, nullptr, &code);
  EXPECT_EQ(code, 0) << v.dump();
  EXPECT_TRUE(v["ok"].get<bool>());
  EXPECT_GT(v["entries"].get<uint64_t>(), 0u);
}

// Copies the gateway's audit log, applies `tamper` to its lines, and
// expects `audit verify --file` to fail naming line `expect_line`.
void ExpectTamperDetected(ClusterFixture& c, const std::string& name,
                          const std::function<void(std::vector<std::string>&)>& tamper,
                          int64_t expect_line) {
  std::string log = c.home() + "/data/gateway/audit/gateway.log";
  auto text = ReadFile(log);
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  auto lines = Lines(*text);
  ASSERT_GE(lines.size(), 4u);
  tamper(lines);
  std::string copy = c.scratch() + "/" + name + ".log";
  ASSERT_TRUE(WriteFileAtomic(copy, Join(lines), 0600).ok());
  int code = -1;
  auto j = c.CliJson({"audit", "verify", "--file", copy}, nullptr, &code);
  EXPECT_EQ(code, 1) << j.dump();
  ASSERT_TRUE(j.contains("files")) << j.dump();
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["files"][0]["line"].get<int64_t>(), expect_line) << j.dump();
  EXPECT_FALSE(j["files"][0]["problem"].get<std::string>().empty());
  // The plain output names file and line too.
  RunResult r = c.Cli({"audit", "verify", "--file", copy});
  EXPECT_NE(r.err.find(copy + ":" + std::to_string(expect_line)), std::string::npos) << r.err;
}

TEST_F(ClusterCliTest, AuditVerifyNamesAnEditedEntry) {
  LoginBob();
  ExpectTamperDetected(*cluster_, "edited", [](std::vector<std::string>& lines) {
    auto& l = lines[1];
    auto pos = l.find("\"allow\"");
    if (pos != std::string::npos) l.replace(pos, 7, "\"deny\" ");
    else l.insert(l.size() - 1, ",\"x\":1");
  }, 2);
}

TEST_F(ClusterCliTest, AuditVerifyNamesADeletedEntry) {
  ExpectTamperDetected(*cluster_, "deleted",
                       [](std::vector<std::string>& lines) { lines.erase(lines.begin() + 1); }, 2);
}

TEST_F(ClusterCliTest, AuditVerifyNamesAReorderedEntry) {
  ExpectTamperDetected(*cluster_, "reordered",
                       [](std::vector<std::string>& lines) { std::swap(lines[1], lines[2]); }, 2);
}

}  // namespace
}  // namespace cloister::testing
