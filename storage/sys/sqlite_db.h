// Raw SQLite C API wrapper: the only code in Cloister that touches sqlite3_*.
// RAII handles for a connection and a prepared statement, and the one
// SQLite result code → Error mapping (SqliteError).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto db, SqliteDb::Open("/data/auth.db", 5000));
//   CLOISTER_ASSIGN_OR_RETURN(auto st, db->Prepare("SELECT a FROM t WHERE b = ?"));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/value.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cloister::storage::sys {

class SqliteStatement;

// One connection. NOT thread-safe: the owner serializes all use (the engine
// holds a mutex around it).
class SqliteDb {
 public:
  // Opens (creating) the database at `path` (":memory:" allowed) and applies
  // the pragmas Cloister relies on: WAL (files only), synchronous=FULL,
  // foreign_keys=ON, secure_delete=ON, trusted_schema=OFF, and a busy
  // timeout of `busy_timeout_ms`.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int busy_timeout_ms);
  struct Key {  // only Open() can make one
   private:
    friend class SqliteDb;
    explicit Key() = default;
  };
  SqliteDb(Key, sqlite3* db) : db_(db) {}
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Exactly one statement (trailing whitespace/semicolons allowed);
  // InvalidArgument if `sql` holds more.
  Result<std::unique_ptr<SqliteStatement>> Prepare(std::string_view sql);
  // Runs a parameterless script of several statements (migrations, BEGIN...).
  Status ExecScript(std::string_view sql);
  int64_t Changes() const;
  bool InTransaction() const;

  // Maps `rc` (with this connection's extended code and message) to an Error.
  Error MakeError(int rc, std::string_view context) const;

  // Registers an application function (see Engine::RegisterFunction): UTF-8,
  // deterministic and SQLITE_DIRECTONLY, so SQL the application runs and its
  // TEMP triggers and views may call it, but no trigger, view or CHECK stored
  // in the database file can. An error `fn` returns fails the statement with
  // that error's code, reason and message.
  using Function = std::function<Result<Value>(std::span<const Value> args)>;
  Status RegisterFunction(const std::string& name, int arity, Function fn);

 private:
  sqlite3* db_;
  // Owned here, called by SQLite through a non-owning pointer; destroyed
  // after the connection is closed (the destructor closes first).
  std::vector<std::unique_ptr<Function>> functions_;
};

// A prepared statement; reusable after Reset().
class SqliteStatement {
 public:
  struct Key {  // only SqliteDb::Prepare can make one
   private:
    friend class SqliteDb;
    explicit Key() = default;
  };
  SqliteStatement(Key, const SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Binds all parameters; Internal if the count differs from the statement's.
  Status Bind(std::span<const Value> params);
  // true: a row is available (read it with CurrentRow); false: done.
  Result<bool> Step();
  Row CurrentRow() const;
  // Resets and clears bindings so the statement can be reused.
  void Reset();

 private:
  const SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

// Maps a (possibly extended) SQLite result code to Cloister's codes; see
// storage/engine.h for the table.
Error SqliteError(int extended_rc, std::string_view message, std::string_view context);

}  // namespace cloister::storage::sys
