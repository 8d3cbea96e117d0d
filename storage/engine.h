// The relational storage interface of Cloister (docs/design.md §7): one small
// API, engines chosen by URL ("sqlite:///abs/path.db", later
// "postgresql://..."). Statements use `?` placeholders and bound parameters
// only; values are never concatenated into SQL.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open("sqlite:///var/lib/c/auth.db"));
//   CLOISTER_RETURN_IF_ERROR(db->Migrate(kAuthMigrations));
//   CLOISTER_RETURN_IF_ERROR(db->Transaction([&](storage::Tx& tx) -> Status {
//     return tx.Execute("INSERT INTO t(a) VALUES (?)", {int64_t{1}}); }));
//
// Error codes (stable reasons in storage::reason):
//   unique / primary-key violation        AlreadyExists      [STORAGE_CONSTRAINT]
//   foreign-key / check / not-null        FailedPrecondition [STORAGE_CONSTRAINT]
//   database locked beyond busy timeout   Unavailable        [STORAGE_BUSY]
//   corrupt or not a database             DataLoss           [STORAGE_CORRUPT]
//   disk full                             ResourceExhausted  [STORAGE_FULL]
//   bad SQL / wrong parameter count       Internal           [STORAGE_ERROR]
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/value.h"

namespace cloister::storage {

namespace reason {
inline constexpr const char* kConstraint = "STORAGE_CONSTRAINT";
inline constexpr const char* kBusy = "STORAGE_BUSY";
inline constexpr const char* kCorrupt = "STORAGE_CORRUPT";
inline constexpr const char* kFull = "STORAGE_FULL";
inline constexpr const char* kError = "STORAGE_ERROR";
inline constexpr const char* kBadUrl = "STORAGE_BAD_URL";
inline constexpr const char* kMigration = "STORAGE_MIGRATION";
}  // namespace reason

using Params = std::span<const Value>;

// What both an Engine (auto-commit, one statement at a time) and a Tx (inside
// a transaction) can run. Each call runs exactly ONE statement: trailing
// statements are refused, so a parameter can never smuggle in a second one.
class Executor {
 public:
  virtual ~Executor() = default;

  Status Execute(std::string_view sql, Params params = {}) { return DoExecute(sql, params); }
  Status Execute(std::string_view sql, std::initializer_list<Value> params) {
    return DoExecute(sql, Params(params.begin(), params.size()));
  }
  // Number of rows inserted/updated/deleted by the statement.
  Result<int64_t> ExecuteChanges(std::string_view sql, Params params = {}) {
    return DoExecuteChanges(sql, params);
  }
  Result<int64_t> ExecuteChanges(std::string_view sql, std::initializer_list<Value> params) {
    return DoExecuteChanges(sql, Params(params.begin(), params.size()));
  }
  Result<std::vector<Row>> Query(std::string_view sql, Params params = {}) {
    return DoQuery(sql, params);
  }
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<Value> params) {
    return DoQuery(sql, Params(params.begin(), params.size()));
  }
  // The first row, or nullopt when there is none.
  Result<std::optional<Row>> QueryRow(std::string_view sql, std::initializer_list<Value> params) {
    return QueryRow(sql, Params(params.begin(), params.size()));
  }
  Result<std::optional<Row>> QueryRow(std::string_view sql, Params params = {});

 protected:
  virtual Status DoExecute(std::string_view sql, Params params) = 0;
  virtual Result<int64_t> DoExecuteChanges(std::string_view sql, Params params) = 0;
  virtual Result<std::vector<Row>> DoQuery(std::string_view sql, Params params) = 0;
};

// A transaction in progress; valid only inside the Transaction callback.
class Tx : public Executor {};

// A schema migration: applied once, in version order, inside a transaction,
// and recorded in schema_migrations with a SHA-256 of its SQL so an edited
// migration is detected instead of silently skipped. The SQL may hold several
// statements but must not contain BEGIN/COMMIT.
struct Migration {
  int64_t version;
  std::string_view name;
  std::string_view sql;
};

class Engine : public Executor {
 public:
  // "sqlite:///absolute/path.db" or "sqlite::memory:" (tests);
  // "postgresql://..." → Unimplemented. InvalidArgument [STORAGE_BAD_URL]
  // otherwise. The SQLite file is created 0600 (it holds password hashes).
  static Result<std::unique_ptr<Engine>> Open(std::string_view url);

  // Runs `fn` in one write transaction: COMMIT if it returns OK, ROLLBACK
  // (and its error returned) otherwise. Thread-safe; transactions on one
  // Engine are serialized. Calling Transaction from inside `fn` is a
  // programming error: FailedPrecondition.
  virtual Status Transaction(const std::function<Status(Tx&)>& fn) = 0;

  // Applies the migrations not yet recorded. InvalidArgument if versions are
  // not strictly increasing; FailedPrecondition [STORAGE_MIGRATION] if an
  // applied migration's SQL changed or the database is at a version newer
  // than this binary knows (refuse to run an old binary on a new schema).
  Status Migrate(std::span<const Migration> migrations);

  // The highest applied migration version (0 if none).
  Result<int64_t> SchemaVersion();

  // "sqlite" or "postgresql".
  virtual std::string_view kind() const = 0;

  // An application function SQL can call by `name` with `arity` arguments
  // (-1: any number): what the row-integrity layer (storage/row_integrity.h)
  // computes MACs with. Only SQL the application runs, and its TEMP
  // triggers and views, may call it — never a trigger, view or constraint
  // stored in the database file, so a planted schema object cannot use it.
  // An error the function returns fails the statement with that error.
  using Function = std::function<Result<Value>(std::span<const Value> args)>;
  virtual Status RegisterFunction(const std::string& name, int arity, Function fn) = 0;

 protected:
  // Runs a multi-statement script without parameters (migrations only).
  virtual Status ExecScript(Tx& tx, std::string_view sql) = 0;
};

}  // namespace cloister::storage
