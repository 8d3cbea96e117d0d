// The audit log's chain: appends survive reopen, and any edit, deletion,
// insertion or reordering is detected and named by line.
#include "services/common/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "common/fs.h"

namespace cloister::services {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cloister-audit-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/a.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteEntries(int n) {
    auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32));
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    for (int i = 0; i < n; ++i) {
      AuditEntry e;
      e.principal = "u-" + std::to_string(i);
      e.method = "/cloister.api.Exec/Call";
      e.decision = i % 2 ? "deny" : "allow";
      e.resources = {"secret-file-name-" + std::to_string(i)};
      ASSERT_TRUE((*log)->Append(e).ok());
    }
  }

  std::vector<std::string> Lines() {
    std::vector<std::string> out;
    std::istringstream in(*ReadFile(path_));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void WriteLines(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    ASSERT_TRUE(WriteFileAtomic(path_, s, 0600).ok());
  }
  AuditVerifyReport Verify() { return *VerifyAuditLog(path_); }

  std::string dir_, path_;
};

TEST_F(AuditLogTest, ChainContinuesAcrossReopen) {
  WriteEntries(3);
  WriteEntries(2);
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 5u);
  // Identifiers are HMAC'd, never written in the clear.
  EXPECT_EQ(ReadFile(path_)->find("secret-file-name"), std::string::npos);
}

TEST_F(AuditLogTest, EditedEntryNamed) {
  WriteEntries(5);
  auto lines = Lines();
  auto pos = lines[2].find("\"deny\"");
  if (pos == std::string::npos) pos = lines[2].find("\"allow\"");
  lines[2].replace(pos, 6, "\"DENY\"");
  WriteLines(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_line, 3);
}

TEST_F(AuditLogTest, DeletedEntryNamed) {
  WriteEntries(5);
  auto lines = Lines();
  lines.erase(lines.begin() + 1);
  WriteLines(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_line, 2);
}

TEST_F(AuditLogTest, ReorderedEntriesNamed) {
  WriteEntries(5);
  auto lines = Lines();
  std::swap(lines[3], lines[4]);
  WriteLines(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_line, 4);
}

TEST_F(AuditLogTest, ReopenRefusesBrokenLog) {
  WriteEntries(3);
  auto lines = Lines();
  lines[0][10] = lines[0][10] == '1' ? '2' : '1';
  WriteLines(lines);
  auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().reason(), "AUDIT_LOG_BROKEN");
}

TEST_F(AuditLogTest, TruncatedTailDetected) {
  WriteEntries(3);
  std::string content = *ReadFile(path_);
  ASSERT_TRUE(WriteFileAtomic(path_, content.substr(0, content.size() - 10), 0600).ok());
  EXPECT_FALSE(Verify().ok);
}

TEST_F(AuditLogTest, IntervalModeWritesAtOnceAndSyncsInTheBackground) {
  auto policy = AuditSyncPolicy::Parse("interval");
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE(policy->sync_each);
  EXPECT_FALSE(AuditSyncPolicy::Parse("sometimes").ok());
  {
    auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32), *policy);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 50; ++i) {
      AuditEntry e;
      e.principal = "u-" + std::to_string(i);
      e.decision = "allow";
      ASSERT_TRUE((*log)->Append(e).ok());
    }
    // Written (visible to a reader, survives kill -9) before any sync.
    auto mid = VerifyAuditLog(path_);
    ASSERT_TRUE(mid.ok());
    EXPECT_TRUE(mid->ok);
    EXPECT_EQ(mid->entries, 50u);
  }
  // Reopening continues the chain in either mode.
  WriteEntries(2);
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 52u);
}

}  // namespace
}  // namespace cloister::services
