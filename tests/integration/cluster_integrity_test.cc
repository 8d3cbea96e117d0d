// Issue 11, must-be-true 5, on a running cluster: editing a role in auth's
// SQLite file, or the owner or exportable flag of a key in the key vault's,
// makes the service refuse that row by name (a live read fails with
// DATA_LOSS [ROW_INTEGRITY_FAILED]; a restart refuses to start), and putting
// an older copy of a database back is detected at start (ROLLBACK_DETECTED)
// until the operator runs `cloister cluster accept-restore`.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs.h"
#include "sdk/cloister_client.h"
#include "storage/engine.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
const std::string kAlicePassword = "alice's long password 7";

class ClusterIntegrityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::string pw = cluster_->admin_password();
    ASSERT_EQ(cluster_->Cli({"login", "--user", "admin", "--password-stdin"}, &pw).exit_code, 0);
    RunResult r = cluster_->Cli({"user", "add", "alice", "--password-stdin"}, &kAlicePassword);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = cluster_->Cli({"login", "--user", "alice", "--password-stdin"}, &kAlicePassword);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = cluster_->Cli({"key", "create", "vault-key", "--type", "aes256-gcm"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static std::string Db(const std::string& svc) {
    return cluster_->home() + "/data/" + svc + "/" + svc + ".db";
  }
  // The file as an attacker with the disk sees it (no service functions).
  static std::unique_ptr<storage::Engine> Raw(const std::string& svc) {
    auto db = storage::Engine::Open("sqlite://" + Db(svc));
    EXPECT_TRUE(db.ok()) << db.error().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }
  static int64_t IntOf(const std::string& svc, const std::string& sql) {
    auto row = Raw(svc)->QueryRow(sql);
    EXPECT_TRUE(row.ok() && row->has_value()) << sql;
    return row.ok() && row->has_value() ? *(*row)->GetInt(0) : -1;
  }
  static void Exec(const std::string& svc, const std::string& sql) {
    Status st = Raw(svc)->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.ToString();
  }
  static std::string Log(const std::string& svc) {
    auto text = ReadFile(cluster_->home() + "/logs/" + svc + ".log");
    return text.ok() ? *text : "";
  }
  // A database file with its WAL (a clean stop leaves none; copy it if not).
  static void CopyDb(const std::string& from, const std::string& to) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    for (const char* ext : {"-wal", "-shm"}) {
      std::error_code ec;
      fs::remove(to + ext, ec);
      if (fs::exists(from + ext)) fs::copy_file(from + ext, to + ext);
    }
  }
  static RunResult Up() { return cluster_->Cli({"cluster", "up"}); }
  static void Down() { ASSERT_TRUE(cluster_->Down().ok()); }
  static std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect({.gateway_address = cluster_->gateway(),
                                   .trust_path = cluster_->trust_path(),
                                   .connect_timeout = std::chrono::milliseconds(15000)});
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  // The service refused to start, and its log names the reason and `what`.
  static void ExpectRefusedStart(const std::string& svc, const std::string& reason,
                                 const std::string& what) {
    const size_t log_before = Log(svc).size();
    RunResult r = Up();
    EXPECT_NE(r.exit_code, 0) << "cluster up started on a tampered " << svc << " database";
    const std::string log = Log(svc).substr(std::min(log_before, Log(svc).size()));
    EXPECT_NE(log.find(reason), std::string::npos) << svc << " log:\n" << log;
    EXPECT_NE(log.find(what), std::string::npos) << svc << " log:\n" << log;
    Down();
  }

  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterIntegrityTest::cluster_;

TEST_F(ClusterIntegrityTest, LiveRoleEditIsRefusedOnReadByName) {
  const int64_t roles = IntOf("auth", "SELECT roles FROM users WHERE username = 'alice'");
  Exec("auth", "UPDATE users SET roles = 3 WHERE username = 'alice'");  // make alice admin
  auto alice = Connect();
  ASSERT_NE(alice, nullptr);
  auto login = alice->Login("alice", kAlicePassword);
  ASSERT_FALSE(login.ok()) << "an edited role row was used";
  EXPECT_EQ(login.error().code(), Code::kDataLoss);
  EXPECT_EQ(login.error().reason(), "ROW_INTEGRITY_FAILED");
  // The admin's own row is intact: admin still logs in.
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
  // Put the row back as it was: its MAC matches again.
  Exec("auth", "UPDATE users SET roles = " + std::to_string(roles) + " WHERE username = 'alice'");
  EXPECT_TRUE(alice->Login("alice", kAlicePassword).ok());
}

TEST_F(ClusterIntegrityTest, EditedRoleRowStopsAuthFromStarting) {
  Down();
  const int64_t roles = IntOf("auth", "SELECT roles FROM users WHERE username = 'alice'");
  Exec("auth", "UPDATE users SET roles = 3 WHERE username = 'alice'");
  ExpectRefusedStart("auth", "ROW_INTEGRITY_FAILED", "users row user_id=");
  Exec("auth", "UPDATE users SET roles = " + std::to_string(roles) + " WHERE username = 'alice'");
  RunResult r = Up();
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ClusterIntegrityTest, EditedKeyOwnerOrExportableFlagStopsTheKeyVault) {
  Down();
  Exec("keyvault", "UPDATE keys SET exportable = 1 WHERE name = 'vault-key'");
  ExpectRefusedStart("keyvault", "ROW_INTEGRITY_FAILED", "keys row uid=");
  Exec("keyvault", "UPDATE keys SET exportable = 0 WHERE name = 'vault-key'");

  auto owner = Raw("keyvault")->QueryRow("SELECT owner FROM keys WHERE name = 'vault-key'");
  ASSERT_TRUE(owner.ok() && owner->has_value());
  const std::string alice_id = *(*owner)->GetText(0);
  Exec("keyvault", "UPDATE keys SET owner = 'mallory' WHERE name = 'vault-key'");
  ExpectRefusedStart("keyvault", "ROW_INTEGRITY_FAILED", "keys row uid=");
  Exec("keyvault", "UPDATE keys SET owner = '" + alice_id + "' WHERE name = 'vault-key'");
  RunResult r = Up();
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ClusterIntegrityTest, DeletedRowOrPlantedTriggerStopsTheService) {
  Down();
  const std::string copy = cluster_->scratch() + "/keyvault.db.before-delete";
  CopyDb(Db("keyvault"), copy);
  Exec("keyvault", "DELETE FROM keys WHERE name = 'vault-key'");
  ExpectRefusedStart("keyvault", "STATE_INTEGRITY_FAILED", "removed");
  CopyDb(copy, Db("keyvault"));

  Exec("auth", "CREATE TRIGGER promote AFTER UPDATE ON users BEGIN UPDATE users SET roles = 3; END");
  ExpectRefusedStart("auth", "SCHEMA_INTEGRITY_FAILED", "promote");
  Exec("auth", "DROP TRIGGER promote");
  RunResult r = Up();
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ClusterIntegrityTest, RestoredOlderDatabaseIsDetectedUntilAccepted) {
  Down();
  const std::string backup = cluster_->scratch() + "/auth.db.backup";
  CopyDb(Db("auth"), backup);
  RunResult r = Up();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A change after the backup: a new user (and alice's sessions).
  r = cluster_->Cli({"login", "--user", "admin", "--password-stdin"}, &cluster_->admin_password());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dave_pw = "dave's long password 99";
  r = cluster_->Cli({"user", "add", "dave", "--password-stdin"}, &dave_pw);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Down();

  CopyDb(backup, Db("auth"));
  ExpectRefusedStart("auth", "ROLLBACK_DETECTED", "accept-restore");

  // The operator accepts the restore knowingly; it applies to one start.
  int code = -1;
  auto j = cluster_->CliJson({"cluster", "accept-restore", "auth"}, nullptr, &code);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j.value("service", ""), "auth");
  r = Up();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(FileExists(cluster_->home() + "/data/auth/accept-restore"))
      << "the consent must be used up by one start";
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
  auto dave = Connect();
  ASSERT_NE(dave, nullptr);
  EXPECT_FALSE(dave->Login("dave", dave_pw).ok()) << "dave was created after the backup";

  // accept-restore names only services whose databases it applies to.
  r = cluster_->Cli({"cluster", "accept-restore", "gateway"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("auth, keyvault"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cloister::testing
