// SQLite engine: statement cache, mutex-serialized connection, RAII
// transactions that roll back unless committed.
#include "storage/sqlite_engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>

#include "common/fs.h"
#include "storage/sys/sqlite_db.h"

namespace cloister::storage {
namespace {

using sys::SqliteDb;
using sys::SqliteStatement;

// Everything that needs the connection; callers hold the engine mutex.
class Connection {
 public:
  Connection(std::unique_ptr<SqliteDb> db, size_t cache_size)
      : db_(std::move(db)), cache_size_(cache_size) {}

  SqliteDb& db() { return *db_; }

  Result<int64_t> Run(std::string_view sql, Params params, std::vector<Row>* rows) {
    CLOISTER_ASSIGN_OR_RETURN(SqliteStatement * st, Statement(sql));
    // Reset on every exit so a failed statement never keeps a read snapshot.
    struct ResetGuard {
      SqliteStatement* st;
      ~ResetGuard() { st->Reset(); }
    } guard{st};
    CLOISTER_RETURN_IF_ERROR(st->Bind(params));
    while (true) {
      CLOISTER_ASSIGN_OR_RETURN(bool has_row, st->Step());
      if (!has_row) break;
      if (rows != nullptr) rows->push_back(st->CurrentRow());
    }
    return db_->Changes();
  }

 private:
  // A cached prepared statement (non-owning pointer into cache_).
  Result<SqliteStatement*> Statement(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second.get();
    CLOISTER_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
    if (cache_.size() >= cache_size_) cache_.clear();  // simple and bounded
    auto [pos, inserted] = cache_.emplace(std::string(sql), std::move(st));
    return pos->second.get();
  }

  std::unique_ptr<SqliteDb> db_;
  size_t cache_size_;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> cache_;
};

class SqliteTx : public Tx {
 public:
  explicit SqliteTx(Connection& conn) : conn_(conn) {}

 protected:
  Status DoExecute(std::string_view sql, Params params) override {
    return conn_.Run(sql, params, nullptr).status();
  }
  Result<int64_t> DoExecuteChanges(std::string_view sql, Params params) override {
    return conn_.Run(sql, params, nullptr);
  }
  Result<std::vector<Row>> DoQuery(std::string_view sql, Params params) override {
    std::vector<Row> rows;
    CLOISTER_RETURN_IF_ERROR(conn_.Run(sql, params, &rows));
    return rows;
  }

 private:
  Connection& conn_;
};

class SqliteEngine : public Engine {
 public:
  SqliteEngine(std::unique_ptr<SqliteDb> db, size_t cache_size)
      : conn_(std::move(db), cache_size) {}

  Status Transaction(const std::function<Status(Tx&)>& fn) override {
    if (tx_owner_.load() == std::this_thread::get_id())
      return FailedPrecondition("nested Transaction on the same engine", reason::kError);
    std::lock_guard<std::mutex> lock(mu_);
    tx_owner_.store(std::this_thread::get_id());
    struct OwnerReset {
      std::atomic<std::thread::id>& owner;
      ~OwnerReset() { owner.store(std::thread::id()); }
    } owner_reset{tx_owner_};

    // IMMEDIATE takes the write lock now (waiting up to the busy timeout),
    // so the transaction cannot fail later with an unretryable upgrade.
    CLOISTER_RETURN_IF_ERROR(conn_.db().ExecScript("BEGIN IMMEDIATE"));
    // Rolls back on every path that does not reach a successful COMMIT.
    struct Rollback {
      SqliteDb& db;
      bool armed = true;
      ~Rollback() {
        if (armed && db.InTransaction()) db.ExecScript("ROLLBACK").IgnoreError();
      }
    } rollback{conn_.db()};

    SqliteTx tx(conn_);
    Status st = fn(tx);
    if (!st.ok()) return st;
    CLOISTER_RETURN_IF_ERROR(conn_.db().ExecScript("COMMIT"));
    rollback.armed = false;
    return OkStatus();
  }

  std::string_view kind() const override { return "sqlite"; }

  Status RegisterFunction(const std::string& name, int arity, Function fn) override {
    CLOISTER_RETURN_IF_ERROR(CheckNotInOwnTx());
    std::lock_guard<std::mutex> lock(mu_);
    return conn_.db().RegisterFunction(name, arity, std::move(fn));
  }

 protected:
  Status DoExecute(std::string_view sql, Params params) override {
    return DoExecuteChanges(sql, params).status();
  }
  Result<int64_t> DoExecuteChanges(std::string_view sql, Params params) override {
    CLOISTER_RETURN_IF_ERROR(CheckNotInOwnTx());
    std::lock_guard<std::mutex> lock(mu_);
    return conn_.Run(sql, params, nullptr);
  }
  Result<std::vector<Row>> DoQuery(std::string_view sql, Params params) override {
    CLOISTER_RETURN_IF_ERROR(CheckNotInOwnTx());
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Row> rows;
    CLOISTER_RETURN_IF_ERROR(conn_.Run(sql, params, &rows));
    return rows;
  }
  Status ExecScript(Tx& tx, std::string_view sql) override {
    // Only called from Migrate inside Transaction: the mutex is held.
    return conn_.db().ExecScript(sql);
  }

 private:
  // Using the engine (not the Tx) inside a transaction callback would
  // deadlock on mu_; report it instead.
  Status CheckNotInOwnTx() const {
    if (tx_owner_.load() == std::this_thread::get_id())
      return FailedPrecondition("use the Tx, not the Engine, inside Transaction",
                                reason::kError);
    return OkStatus();
  }

  std::mutex mu_;
  std::atomic<std::thread::id> tx_owner_{};
  Connection conn_;  // guarded by mu_
};

// Creates the file with 0600 before SQLite does (SQLite would use 0644 minus
// umask); the -wal and -shm files inherit the database file's mode.
Status PrepareFile(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    CLOISTER_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), 0700));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  ::close(fd);
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<Engine>> OpenSqliteEngine(const std::string& path, SqliteOptions options) {
  if (path != ":memory:") {
    if (path.empty() || path[0] != '/')
      return InvalidArgument("SQLite path must be absolute: " + path, reason::kBadUrl);
    CLOISTER_RETURN_IF_ERROR(PrepareFile(path));
  }
  CLOISTER_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, options.busy_timeout_ms));
  return std::unique_ptr<Engine>(
      std::make_unique<SqliteEngine>(std::move(db), options.statement_cache_size));
}

}  // namespace cloister::storage
