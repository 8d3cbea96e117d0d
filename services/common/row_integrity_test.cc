// RowIntegrity against the attacks it exists for, on real SQLite files:
// an edited row, a removed row, an old row put back, a planted trigger, a
// removed state record, a database rolled back to an older copy — each
// refused by name — and the service's own writes (update, delete, REPLACE)
// never mistaken for one.
#include "services/common/row_integrity.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/engine.h"

namespace cloister::services {
namespace {

namespace ir = integrity_reason;
namespace fs = std::filesystem;

const std::vector<ProtectedTable> kTables = {
    {"users", {"user_id"}, {"user_id", "roles"}},
    {"grants", {"key_id", "grantee"}, {"key_id", "grantee", "ops"}},
    {"revocations", {"id"}, {"id", "token_id", "before_unix"}},
};

class RowIntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("row_integrity_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "svc.db").string();
    auto counters = attestation::InProcessCounters::Open((dir_ / "counters").string());
    ASSERT_TRUE(counters.ok()) << counters.error().ToString();
    counters_ = std::make_unique<attestation::InProcessCounters>(std::move(*counters));
    std::unique_ptr<storage::Engine> raw = Raw();
    ASSERT_TRUE(raw->Transaction([](storage::Tx& tx) -> Status {
                     for (const char* s :
                          {"CREATE TABLE users (user_id TEXT PRIMARY KEY, roles INTEGER NOT NULL, "
                           "last_seen INTEGER NOT NULL DEFAULT 0)",
                           "CREATE TABLE grants (key_id TEXT NOT NULL, grantee TEXT NOT NULL, ops "
                           "INTEGER NOT NULL, PRIMARY KEY (key_id, grantee))",
                           "CREATE TABLE revocations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                           "token_id TEXT NOT NULL DEFAULT '', before_unix INTEGER NOT NULL DEFAULT 0)",
                           "INSERT INTO users (user_id, roles) VALUES ('alice', 1), ('root', 3)"})
                       CLOISTER_RETURN_IF_ERROR(tx.Execute(s));
                     return OkStatus();
                   }).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The file as an attacker (or the sqlite3 shell) sees it: no functions.
  std::unique_ptr<storage::Engine> Raw() { return *storage::Engine::Open("sqlite://" + path_); }

  Result<std::unique_ptr<storage::Engine>> Start(bool accept_restore = false) {
    CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open("sqlite://" + path_));
    RowIntegrity::Config cfg{&sealer_, counters_.get(), "rows.test", accept_restore};
    return RowIntegrity::Protect(std::move(db), kTables, cfg);
  }

  static std::string Reason(const Status& s) { return s.ok() ? "<ok>" : s.error().reason(); }
  template <typename T>
  static std::string Reason(const Result<T>& r) {
    return r.ok() ? "<ok>" : r.error().reason();
  }

  fs::path dir_;
  std::string path_;
  attestation::AeadSealer sealer_;
  std::unique_ptr<attestation::InProcessCounters> counters_;
};

TEST_F(RowIntegrityTest, FirstStartSealsRowsAndServiceWritesKeepVerifying) {
  {
    auto db = Start();
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    auto rows = (*db)->Query("SELECT user_id, roles FROM users_checked ORDER BY user_id");
    ASSERT_TRUE(rows.ok()) << rows.error().ToString();
    EXPECT_EQ(rows->size(), 2u);
    ASSERT_TRUE((*db)->Execute("INSERT INTO main.users (user_id, roles) VALUES ('bob', 1)").ok());
    ASSERT_TRUE((*db)->Execute("UPDATE main.users SET roles = 3 WHERE user_id = 'bob'").ok());
    // A column the MAC does not cover changes nothing it checks.
    ASSERT_TRUE((*db)->Execute("UPDATE main.users SET last_seen = 9 WHERE user_id = 'bob'").ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO main.grants (key_id, grantee, ops) VALUES ('k1', 'bob', 1)").ok());
    ASSERT_TRUE((*db)->Execute("INSERT OR REPLACE INTO main.grants (key_id, grantee, ops) VALUES ('k1', 'bob', 7)").ok());
    ASSERT_TRUE((*db)->Execute("DELETE FROM main.users WHERE user_id = 'alice'").ok());
    // An INTEGER PRIMARY KEY the insert leaves to SQLite.
    ASSERT_TRUE((*db)->Execute("INSERT INTO main.revocations (token_id) VALUES ('t1')").ok());
    auto rev = (*db)->Query("SELECT id, token_id FROM revocations_checked");
    ASSERT_TRUE(rev.ok()) << rev.error().ToString();
    EXPECT_EQ(rev->size(), 1u);
    auto bob = (*db)->QueryRow("SELECT roles FROM users_checked WHERE user_id = 'bob'");
    ASSERT_TRUE(bob.ok() && bob->has_value());
    EXPECT_EQ(*(*bob)->GetInt(0), 3);
    // The counter follows every committed write.
    auto state = Raw()->QueryRow("SELECT version FROM cloister_integrity");
    ASSERT_TRUE(state.ok() && state->has_value());
    EXPECT_EQ(*counters_->ReadCounter("rows.test"), static_cast<uint64_t>(*(*state)->GetInt(0)));
    EXPECT_GT(*counters_->ReadCounter("rows.test"), 2u);
  }
  auto again = Start();
  EXPECT_TRUE(again.ok()) << again.error().ToString();
}

// Found on a cluster: "WHERE grantee = ?" over a table scan let SQLite's
// constant propagation hand the check the constant instead of each row's
// value, so intact rows of other grantees failed. Reads filtered on a
// column that is not the key must see only real rows.
TEST_F(RowIntegrityTest, FilteredScansCheckEachRowsOwnValues) {
  auto db = Start();
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  for (const char* g : {"alice", "bob", "carol"})
    ASSERT_TRUE((*db)->Execute("INSERT INTO main.grants (key_id, grantee, ops) VALUES ('k', ?, 1)",
                               {std::string(g)})
                    .ok());
  for (const char* sql : {"SELECT key_id FROM grants_checked WHERE grantee = 'bob'",
                          "SELECT key_id FROM grants_checked WHERE ops = 1 AND grantee = 'carol'",
                          "SELECT user_id FROM users_checked WHERE roles = 3"}) {
    auto r = (*db)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.error().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->size(), 1u) << sql;
    }
  }
}

TEST_F(RowIntegrityTest, EditedRowIsRefusedOnReadAndAtStartByName) {
  auto db = Start();
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  ASSERT_TRUE(Raw()->Execute("UPDATE users SET roles = 3 WHERE user_id = 'alice'").ok());
  auto read = (*db)->QueryRow("SELECT roles FROM users_checked WHERE user_id = 'alice'");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code(), Code::kDataLoss);
  EXPECT_EQ(read.error().reason(), ir::kRowIntegrityFailed);
  EXPECT_NE(read.error().message().find("users row user_id='alice'"), std::string::npos)
      << read.error().message();
  // The untouched row still reads.
  EXPECT_TRUE((*db)->QueryRow("SELECT roles FROM users_checked WHERE user_id = 'root'").ok());
  // A service write over the edited row does not launder it.
  auto write = (*db)->Execute("UPDATE main.users SET roles = 1 WHERE user_id = 'alice'");
  EXPECT_EQ(Reason(write), ir::kRowIntegrityFailed);
  db->reset();
  auto restart = Start();
  EXPECT_EQ(Reason(restart), ir::kRowIntegrityFailed);
}

TEST_F(RowIntegrityTest, RowAddedOrRemovedOutsideIsRefusedAtStart) {
  { ASSERT_TRUE(Start().ok()); }
  ASSERT_TRUE(Raw()->Execute("DELETE FROM users WHERE user_id = 'alice'").ok());
  EXPECT_EQ(Reason(Start()), ir::kStateIntegrityFailed);
}

TEST_F(RowIntegrityTest, RowWithoutMacAddedOutsideIsRefused) {
  { ASSERT_TRUE(Start().ok()); }
  ASSERT_TRUE(Raw()->Execute("INSERT INTO users (user_id, roles) VALUES ('mallory', 3)").ok());
  EXPECT_EQ(Reason(Start()), ir::kRowIntegrityFailed);
}

TEST_F(RowIntegrityTest, OlderVersionOfOneRowPutBackIsRefusedAtStart) {
  Bytes old_mac;
  {
    auto db = Start();
    ASSERT_TRUE(db.ok());
    auto r = Raw()->QueryRow("SELECT row_mac FROM users WHERE user_id = 'root'");
    old_mac = *(*r)->GetBlob(0);
    // The admin is demoted by the service...
    ASSERT_TRUE((*db)->Execute("UPDATE main.users SET roles = 1 WHERE user_id = 'root'").ok());
  }
  // ...and the attacker puts the old, validly MACed row back.
  ASSERT_TRUE(Raw()->Execute("UPDATE users SET roles = 3, row_mac = ? WHERE user_id = 'root'",
                             {old_mac})
                  .ok());
  EXPECT_EQ(Reason(Start()), ir::kStateIntegrityFailed);
}

TEST_F(RowIntegrityTest, RolledBackDatabaseIsDetectedUntilTheOperatorAcceptsIt) {
  const std::string copy = path_ + ".backup";
  { ASSERT_TRUE(Start().ok()); }
  fs::copy_file(path_, copy);
  {
    auto db = Start();
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Execute("DELETE FROM main.grants").ok());
    ASSERT_TRUE((*db)->Execute("UPDATE main.users SET roles = 1 WHERE user_id = 'root'").ok());
  }
  fs::copy_file(copy, path_, fs::copy_options::overwrite_existing);
  auto refused = Start();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason(), ir::kRollbackDetected);
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("accept-restore"), std::string::npos);
  {
    auto accepted = Start(/*accept_restore=*/true);
    ASSERT_TRUE(accepted.ok()) << accepted.error().ToString();
  }
  // Accepted once, the restored database is the current one.
  EXPECT_TRUE(Start().ok());
}

TEST_F(RowIntegrityTest, RemovedStateRecordIsRefusedOnceTheCounterMoved) {
  { ASSERT_TRUE(Start().ok()); }
  ASSERT_TRUE(Raw()->Execute("DELETE FROM cloister_integrity").ok());
  ASSERT_TRUE(Raw()->Execute("UPDATE users SET row_mac = NULL").ok());
  EXPECT_EQ(Reason(Start()), ir::kStateMissing);
}

TEST_F(RowIntegrityTest, EditedStateRecordIsRefused) {
  { ASSERT_TRUE(Start().ok()); }
  ASSERT_TRUE(Raw()->Execute("UPDATE cloister_integrity SET version = version + 100").ok());
  EXPECT_EQ(Reason(Start()), ir::kStateIntegrityFailed);
}

TEST_F(RowIntegrityTest, PlantedTriggerIsRefused) {
  { ASSERT_TRUE(Start().ok()); }
  ASSERT_TRUE(Raw()->Execute("CREATE TRIGGER promote AFTER UPDATE ON users BEGIN "
                             "UPDATE users SET roles = 3; END")
                  .ok());
  EXPECT_EQ(Reason(Start()), ir::kSchemaTampered);
}

TEST_F(RowIntegrityTest, ReadingATableWithoutItsCheckIsRefused) {
  auto db = Start();
  ASSERT_TRUE(db.ok());
  for (const char* sql : {"SELECT roles FROM users", "SELECT roles FROM main.users",
                          "SELECT 1 FROM users_checked u JOIN grants g ON g.grantee = u.user_id",
                          "UPDATE main.users SET roles = 1 WHERE user_id IN (SELECT user_id FROM users)"}) {
    auto r = (*db)->Query(sql);
    EXPECT_FALSE(r.ok()) << sql;
  }
  EXPECT_TRUE((*db)->Query("SELECT roles FROM users_checked").ok());
  EXPECT_TRUE((*db)->Execute("DELETE FROM users WHERE user_id = 'nobody'").ok());
  // Inside a transaction too.
  Status st = (*db)->Transaction([](storage::Tx& tx) { return tx.Query("SELECT * FROM grants").status(); });
  EXPECT_FALSE(st.ok());
}

TEST_F(RowIntegrityTest, KeySealedElsewhereDoesNotOpen) {
  { ASSERT_TRUE(Start().ok()); }
  sealer_ = attestation::AeadSealer();  // another machine's / binary's sealing key
  auto r = Start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace cloister::services
