// Unit tests of the storage interface on the SQLite engine: URLs, migrations,
// transactions, error mapping, concurrency and durability across reopen.
#include "storage/engine.h"
#include "storage/sqlite_engine.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace cloister::storage {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cloister-storage-XXXXXX");
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr Migration kMigrations[] = {
    {1, "create t", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                    "n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0));"},
    {2, "create child", "CREATE TABLE child (id INTEGER PRIMARY KEY, "
                        "t_id INTEGER NOT NULL REFERENCES t(id));"
                        "CREATE TABLE counter (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"},
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "sqlite://" + dir_.path() + "/sub/test.db";
    auto db = Engine::Open(url_);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate(kMigrations).ok());
  }
  TempDir dir_;
  std::string url_;
  std::unique_ptr<Engine> db_;
};

TEST(EngineOpenTest, RejectsBadUrls) {
  EXPECT_EQ(Engine::Open("sqlite://relative.db").code(), Code::kInvalidArgument);
  EXPECT_EQ(Engine::Open("sqlite:///tmp/x.db?mode=ro").code(), Code::kInvalidArgument);
  EXPECT_EQ(Engine::Open("mysql://x").code(), Code::kInvalidArgument);
  EXPECT_EQ(Engine::Open("").code(), Code::kInvalidArgument);
  auto pg = Engine::Open("postgresql://localhost/cloister");
  EXPECT_EQ(pg.code(), Code::kUnimplemented);
}

TEST(EngineOpenTest, InMemoryWorks) {
  auto db = Engine::Open("sqlite::memory:");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->kind(), "sqlite");
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
}

TEST(EngineOpenTest, NotADatabaseIsDataLoss) {
  TempDir dir;
  std::string path = dir.path() + "/junk.db";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string junk(4096, 'x');
  fwrite(junk.data(), 1, junk.size(), f);
  fclose(f);
  auto db = Engine::Open("sqlite://" + path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.code(), Code::kDataLoss) << db.error().ToString();
  EXPECT_EQ(db.error().reason(), reason::kCorrupt);
}

TEST_F(EngineTest, FileIsPrivate) {
  struct stat st{};
  ASSERT_EQ(stat((dir_.path() + "/sub/test.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(EngineTest, MigrationsAreIdempotent) {
  ASSERT_TRUE(db_->Migrate(kMigrations).ok());
  ASSERT_TRUE(db_->Migrate(kMigrations).ok());
  EXPECT_EQ(*db_->SchemaVersion(), 2);
  auto rows = db_->Query("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 2u);
}

TEST_F(EngineTest, MigrationsApplyOnlyNewOnes) {
  TempDir dir;
  auto db = *Engine::Open("sqlite://" + dir.path() + "/m.db");
  ASSERT_TRUE(db->Migrate(std::span(kMigrations, 1)).ok());
  EXPECT_EQ(*db->SchemaVersion(), 1);
  ASSERT_TRUE(db->Migrate(kMigrations).ok());
  EXPECT_EQ(*db->SchemaVersion(), 2);
}

TEST_F(EngineTest, ChangedMigrationIsRefused) {
  const Migration changed[] = {{1, "create t", "CREATE TABLE other (x INTEGER);"}};
  Status st = db_->Migrate(changed);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
}

TEST_F(EngineTest, NewerSchemaIsRefused) {
  Status st = db_->Migrate(std::span(kMigrations, 1));
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.error().reason(), reason::kMigration);
}

TEST_F(EngineTest, UnorderedMigrationsAreInvalid) {
  const Migration bad[] = {{2, "b", "SELECT 1;"}, {1, "a", "SELECT 1;"}};
  EXPECT_EQ(db_->Migrate(bad).code(), Code::kInvalidArgument);
}

TEST_F(EngineTest, FailedMigrationRollsBack) {
  TempDir dir;
  auto db = *Engine::Open("sqlite://" + dir.path() + "/f.db");
  const Migration bad[] = {{1, "half", "CREATE TABLE a (x INTEGER); CREATE TABLE a (y);"}};
  EXPECT_FALSE(db->Migrate(bad).ok());
  EXPECT_EQ(*db->SchemaVersion(), 0);
  // Table a from the first statement must not exist.
  EXPECT_TRUE(db->Execute("CREATE TABLE a (z INTEGER)").ok());
}

TEST_F(EngineTest, ValuesRoundTrip) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE v (a, b, c, d, e)").ok());
  Bytes blob = {0, 1, 2, 0xff};
  ASSERT_TRUE(db_->Execute("INSERT INTO v VALUES (?, ?, ?, ?, ?)",
                           {Null(), int64_t{-5}, 2.5, std::string("h\0i", 3), blob})
                  .ok());
  auto row = db_->QueryRow("SELECT a, b, c, d, e FROM v");
  ASSERT_TRUE(row.ok() && row->has_value());
  const Row& r = **row;
  EXPECT_TRUE(r.IsNull(0));
  EXPECT_EQ(*r.GetInt(1), -5);
  EXPECT_DOUBLE_EQ(*r.GetDouble(2), 2.5);
  EXPECT_EQ(*r.GetText(3), std::string("h\0i", 3));
  EXPECT_EQ(*r.GetBlob(4), blob);
  // Wrong type and out-of-range index are errors, not UB.
  EXPECT_EQ(r.GetInt(3).code(), Code::kInternal);
  EXPECT_EQ(r.GetText(9).code(), Code::kInternal);
  EXPECT_FALSE(*r.GetOptionalInt(0));
}

TEST_F(EngineTest, EmptyBlobIsNotNull) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE v (a BLOB)").ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO v VALUES (?)", {Bytes{}}).ok());
  auto row = db_->QueryRow("SELECT a IS NULL FROM v");
  EXPECT_EQ(*(*row)->GetInt(0), 0);
}

TEST_F(EngineTest, ParametersAreNeverSql) {
  std::string evil = "x'); DROP TABLE t; --";
  ASSERT_TRUE(db_->Execute("INSERT INTO t(name) VALUES (?)", {evil}).ok());
  auto row = db_->QueryRow("SELECT name FROM t WHERE name = ?", {evil});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ(*(*row)->GetText(0), evil);
}

TEST_F(EngineTest, RefusesStackedStatements) {
  Status st = db_->Execute("INSERT INTO t(name) VALUES ('a'); DROP TABLE t");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_TRUE(db_->Execute("SELECT 1;  ").ok());  // trailing noise is fine
}

TEST_F(EngineTest, WrongParameterCountIsInternal) {
  EXPECT_EQ(db_->Execute("INSERT INTO t(name) VALUES (?)", {}).code(), Code::kInternal);
  EXPECT_EQ(db_->Execute("INSERT INTO t(name) VALUES (?)", {std::string("a"), int64_t{1}}).code(),
            Code::kInternal);
}

TEST_F(EngineTest, ConstraintErrorsMapToCodes) {
  ASSERT_TRUE(db_->Execute("INSERT INTO t(id, name) VALUES (1, 'a')").ok());
  Status dup = db_->Execute("INSERT INTO t(name) VALUES (?)", {std::string("a")});
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.error().reason(), reason::kConstraint);
  Status pk = db_->Execute("INSERT INTO t(id, name) VALUES (1, 'b')");
  EXPECT_EQ(pk.code(), Code::kAlreadyExists);
  Status fk = db_->Execute("INSERT INTO child(t_id) VALUES (99)");
  EXPECT_EQ(fk.code(), Code::kFailedPrecondition) << fk.ToString();
  Status check = db_->Execute("INSERT INTO t(name, n) VALUES ('c', -1)");
  EXPECT_EQ(check.code(), Code::kFailedPrecondition);
  Status notnull = db_->Execute("INSERT INTO t(name) VALUES (NULL)");
  EXPECT_EQ(notnull.code(), Code::kFailedPrecondition);
  Status syntax = db_->Execute("INSERT INTO nowhere VALUES (1)");
  EXPECT_EQ(syntax.code(), Code::kInternal);
}

TEST_F(EngineTest, ExecuteChangesCountsRows) {
  for (std::string n : {"a", "b", "c"})
    ASSERT_TRUE(db_->Execute("INSERT INTO t(name) VALUES (?)", {n}).ok());
  auto changed = db_->ExecuteChanges("UPDATE t SET n = n + 1 WHERE name != ?", {std::string("a")});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 2);
}

TEST_F(EngineTest, TransactionCommits) {
  ASSERT_TRUE(db_->Transaction([](Tx& tx) -> Status {
                   CLOISTER_RETURN_IF_ERROR(tx.Execute("INSERT INTO t(name) VALUES ('a')"));
                   return tx.Execute("INSERT INTO t(name) VALUES ('b')");
                 }).ok());
  EXPECT_EQ(*(*db_->QueryRow("SELECT count(*) FROM t"))->GetInt(0), 2);
}

TEST_F(EngineTest, TransactionRollsBackOnError) {
  Status st = db_->Transaction([](Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(tx.Execute("INSERT INTO t(name) VALUES ('a')"));
    return Aborted("changed my mind");
  });
  EXPECT_EQ(st.code(), Code::kAborted);
  EXPECT_EQ(*(*db_->QueryRow("SELECT count(*) FROM t"))->GetInt(0), 0);
}

TEST_F(EngineTest, TransactionRollsBackOnConstraintError) {
  ASSERT_TRUE(db_->Execute("INSERT INTO t(name) VALUES ('dup')").ok());
  Status st = db_->Transaction([](Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(tx.Execute("INSERT INTO t(name) VALUES ('new')"));
    return tx.Execute("INSERT INTO t(name) VALUES ('dup')");
  });
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_EQ(*(*db_->QueryRow("SELECT count(*) FROM t"))->GetInt(0), 1);
  // The engine is usable afterwards.
  EXPECT_TRUE(db_->Transaction([](Tx& tx) { return tx.Execute("INSERT INTO t(name) VALUES ('x')"); })
                  .ok());
}

TEST_F(EngineTest, NestedUseIsReportedNotDeadlocked) {
  Status st = db_->Transaction([&](Tx&) -> Status {
    Status inner = db_->Transaction([](Tx&) { return OkStatus(); });
    EXPECT_EQ(inner.code(), Code::kFailedPrecondition);
    Status direct = db_->Execute("SELECT 1");
    EXPECT_EQ(direct.code(), Code::kFailedPrecondition);
    return OkStatus();
  });
  EXPECT_TRUE(st.ok());
}

TEST_F(EngineTest, ConcurrentWritersFromThreads) {
  ASSERT_TRUE(db_->Execute("INSERT INTO counter VALUES ('c', 0)").ok());
  constexpr int kThreads = 8, kIters = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kIters; ++j) {
        Status st = db_->Transaction([](Tx& tx) -> Status {
          CLOISTER_ASSIGN_OR_RETURN(auto row,
                                    tx.QueryRow("SELECT v FROM counter WHERE k = 'c'", {}));
          CLOISTER_ASSIGN_OR_RETURN(int64_t v, (*row).GetInt(0));
          return tx.Execute("UPDATE counter SET v = ? WHERE k = 'c'", {v + 1});
        });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*(*db_->QueryRow("SELECT v FROM counter"))->GetInt(0), kThreads * kIters);
}

TEST_F(EngineTest, ConcurrentWritersFromTwoConnections) {
  // Two engines on one file behave like two processes: the busy timeout and
  // BEGIN IMMEDIATE make every increment land.
  auto other = *Engine::Open(url_);
  ASSERT_TRUE(db_->Execute("INSERT INTO counter VALUES ('c', 0)").ok());
  constexpr int kIters = 100;
  auto work = [&](Engine* e) {
    for (int j = 0; j < kIters; ++j) {
      Status st = e->Transaction([](Tx& tx) -> Status {
        return tx.Execute("UPDATE counter SET v = v + 1 WHERE k = 'c'");
      });
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  };
  std::thread a(work, db_.get()), b(work, other.get());
  a.join();
  b.join();
  EXPECT_EQ(*(*db_->QueryRow("SELECT v FROM counter"))->GetInt(0), 2 * kIters);
}

TEST_F(EngineTest, BusyBeyondTimeoutIsUnavailable) {
  auto other = *OpenSqliteEngine(dir_.path() + "/sub/test.db", {.busy_timeout_ms = 100});
  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    Status st = db_->Transaction([&](Tx& tx) -> Status {
      CLOISTER_RETURN_IF_ERROR(tx.Execute("INSERT INTO t(name) VALUES ('h')"));
      holding = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return OkStatus();
    });
    EXPECT_TRUE(st.ok());
  });
  while (!holding) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Status st = other->Transaction([](Tx& tx) { return tx.Execute("INSERT INTO t(name) VALUES ('o')"); });
  release = true;
  holder.join();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_EQ(st.error().reason(), reason::kBusy);
}

TEST_F(EngineTest, ReopenPreservesData) {
  ASSERT_TRUE(db_->Execute("INSERT INTO t(name, n) VALUES ('kept', 7)").ok());
  db_.reset();
  auto db = Engine::Open(url_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
  auto row = (*db)->QueryRow("SELECT n FROM t WHERE name = 'kept'");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ(*(*row)->GetInt(0), 7);
}

}  // namespace
}  // namespace cloister::storage

namespace cloister::storage {
namespace {

// Application functions (Engine::RegisterFunction): values in and out, an
// error crosses SQLite with its code and reason, and nothing stored in the
// database file — a trigger an attacker planted — may call one.
TEST(EngineFunctionTest, ValuesErrorsAndDirectOnly) {
  TempDir dir;
  const std::string url = "sqlite://" + dir.path() + "/f.db";
  auto db = *Engine::Open(url);
  ASSERT_TRUE(db->RegisterFunction("twice", 1, [](std::span<const Value> a) -> Result<Value> {
                  if (const auto* i = std::get_if<int64_t>(&a[0])) return Value(*i * 2);
                  return DataLoss("not an integer", "NOT_AN_INTEGER");
                }).ok());
  auto row = db->QueryRow("SELECT twice(21)");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ(*(*row)->GetInt(0), 42);
  auto bad = db->QueryRow("SELECT twice('x')");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kDataLoss);
  EXPECT_EQ(bad.error().reason(), "NOT_AN_INTEGER");
  EXPECT_EQ(bad.error().message(), "not an integer");

  // A TEMP trigger (the application's own) may call it...
  ASSERT_TRUE(db->Execute("CREATE TABLE t (a INTEGER, b INTEGER)").ok());
  ASSERT_TRUE(db->Execute("CREATE TEMP TRIGGER t_ok AFTER INSERT ON main.t BEGIN "
                          "UPDATE t SET b = twice(NEW.a) WHERE rowid = NEW.rowid; END")
                  .ok());
  ASSERT_TRUE(db->Execute("INSERT INTO t (a) VALUES (4)").ok());
  row = db->QueryRow("SELECT b FROM t");
  EXPECT_EQ(*(*row)->GetInt(0), 8);
  // ...a trigger stored in the file may not.
  // (SQLite may refuse it when the trigger is made or when it fires.)
  Status planted = db->Execute("CREATE TRIGGER planted AFTER UPDATE ON t BEGIN "
                               "UPDATE t SET b = twice(b); END");
  if (planted.ok()) {
    Status st = db->Execute("UPDATE main.t SET a = 5");
    EXPECT_FALSE(st.ok()) << "a trigger stored in the database called an application function";
  }
  row = db->QueryRow("SELECT b FROM t");
  EXPECT_EQ(*(*row)->GetInt(0), 8);
}

}  // namespace
}  // namespace cloister::storage
