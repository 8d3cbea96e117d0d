// Raw SQLite C API wrapper (see sqlite_db.h): connection setup, statements,
// binding, row extraction and error mapping. Nothing else includes sqlite3.h.
#include "storage/sys/sqlite_db.h"

#include <sqlite3.h>

#include <cctype>
#include <limits>
#include <optional>

namespace cloister::storage::sys {
namespace {

bool OnlyTrailingNoise(const char* tail, const char* end) {
  for (const char* p = tail; p < end; ++p)
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') return false;
  return true;
}

// How an application function's Error crosses SQLite's C boundary: as the
// statement's error message "<tag><code>:<reason>:<message>", parsed back by
// SqliteError so the caller sees the function's own error.
constexpr std::string_view kFunctionErrorTag = "cloister-function-error:";

std::string EncodeFunctionError(const Error& e) {
  return std::string(kFunctionErrorTag) + std::to_string(static_cast<int>(e.code())) + ":" +
         e.reason() + ":" + e.message();
}

// The function error inside `message` (SQLite may prefix it), if any.
std::optional<Error> DecodeFunctionError(std::string_view message) {
  size_t at = message.find(kFunctionErrorTag);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(at + kFunctionErrorTag.size());
  size_t c1 = rest.find(':');
  if (c1 == std::string_view::npos || c1 == 0 || c1 > 2) return std::nullopt;
  int code = 0;
  for (char ch : rest.substr(0, c1)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    code = code * 10 + (ch - '0');
  }
  if (code <= 0 || code > 16) return std::nullopt;
  rest = rest.substr(c1 + 1);
  size_t c2 = rest.find(':');
  if (c2 == std::string_view::npos) return std::nullopt;
  return Error(static_cast<Code>(code), std::string(rest.substr(c2 + 1)),
               std::string(rest.substr(0, c2)));
}

Value ArgValue(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_value_int64(v));
    case SQLITE_FLOAT:
      return sqlite3_value_double(v);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
      int len = sqlite3_value_bytes(v);
      return std::string(p ? p : "", static_cast<size_t>(p ? len : 0));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(v));
      int len = sqlite3_value_bytes(v);
      return p ? Bytes(p, p + len) : Bytes();
    }
    default:
      return std::monostate{};
  }
}

void CallFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  const auto* fn = static_cast<const SqliteDb::Function*>(sqlite3_user_data(ctx));
  std::vector<Value> args;
  args.reserve(static_cast<size_t>(argc));
  for (int i = 0; i < argc; ++i) args.push_back(ArgValue(argv[i]));
  Result<Value> r = (*fn)(args);
  if (!r.ok()) {
    std::string m = EncodeFunctionError(r.error());
    sqlite3_result_error(ctx, m.data(), static_cast<int>(m.size()));
    return;
  }
  const Value& v = *r;
  if (const auto* x = std::get_if<int64_t>(&v)) {
    sqlite3_result_int64(ctx, *x);
  } else if (const auto* d = std::get_if<double>(&v)) {
    sqlite3_result_double(ctx, *d);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    sqlite3_result_text64(ctx, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (const auto* b = std::get_if<Bytes>(&v)) {
    sqlite3_result_blob64(ctx, b->data(), b->size(), SQLITE_TRANSIENT);
  } else {
    sqlite3_result_null(ctx);
  }
}

}  // namespace

Error SqliteError(int rc, std::string_view message, std::string_view context) {
  if (std::optional<Error> fe = DecodeFunctionError(message)) return *fe;
  std::string msg = std::string(context) + ": " + std::string(message);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
          rc == SQLITE_CONSTRAINT_ROWID)
        return AlreadyExists(msg, "STORAGE_CONSTRAINT");
      return FailedPrecondition(msg, "STORAGE_CONSTRAINT");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg, "STORAGE_BUSY");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(msg, "STORAGE_CORRUPT");
    case SQLITE_FULL:
      return ResourceExhausted(msg, "STORAGE_FULL");
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return PermissionDenied(msg, "STORAGE_ERROR");
    case SQLITE_CANTOPEN:
      return FailedPrecondition(msg, "STORAGE_ERROR");
    case SQLITE_IOERR:
      return Unavailable(msg, "STORAGE_ERROR");
    case SQLITE_TOOBIG:
      return InvalidArgument(msg, "STORAGE_ERROR");
    default:
      return Internal(msg, "STORAGE_ERROR");
  }
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the engine serializes access itself. No URI filenames, so a path
  // can never carry options.
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(raw ? sqlite3_extended_errcode(raw) : rc,
                          raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc), "open " + path);
    sqlite3_close_v2(raw);
    return e;
  }
  auto db = std::make_unique<SqliteDb>(Key(), raw);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // Reading the schema forces SQLite to look at the file, so "not a database"
  // surfaces here rather than on the first query.
  CLOISTER_RETURN_IF_ERROR(db->ExecScript("SELECT count(*) FROM sqlite_master;"));
  if (path != ":memory:") {
    CLOISTER_ASSIGN_OR_RETURN(auto st, db->Prepare("PRAGMA journal_mode=WAL"));
    CLOISTER_ASSIGN_OR_RETURN(bool row, st->Step());
    Row r = row ? st->CurrentRow() : Row();
    auto mode = r.GetText(0);
    if (!mode.ok() || *mode != "wal")
      return Internal("could not switch " + path + " to WAL journal mode", "STORAGE_ERROR");
  }
  CLOISTER_RETURN_IF_ERROR(db->ExecScript(
      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
      "PRAGMA trusted_schema=OFF;"));
  // Constant propagation rewrites "WHERE x = ? AND f(x)" to "f(?)" and may
  // evaluate f on rows where x differs. The row-integrity check is such an
  // f, and it fails the statement on a mismatch, so it must always see each
  // row's own values: turn that one optimization off. (The test-control
  // interface is the only switch SQLite has; the bit is SQLITE_PropagateConst
  // of sqliteInt.h, 0x8000 since 3.28. services/common/row_integrity_test.cc,
  // FilteredScansCheckEachRowsOwnValues, fails if this stops working.)
  constexpr unsigned kPropagateConst = 0x00008000;
  sqlite3_test_control(SQLITE_TESTCTRL_OPTIMIZATIONS, raw, kPropagateConst);
  return db;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(std::string_view sql) {
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    return InvalidArgument("SQL too long");
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return MakeError(rc, "prepare");
  }
  auto out = std::make_unique<SqliteStatement>(SqliteStatement::Key(), this, stmt);
  if (stmt == nullptr) return InvalidArgument("empty SQL statement", "STORAGE_ERROR");
  if (tail != nullptr && !OnlyTrailingNoise(tail, sql.data() + sql.size()))
    return InvalidArgument("more than one SQL statement in one call", "STORAGE_ERROR");
  return out;
}

Status SqliteDb::ExecScript(std::string_view sql) {
  std::string copy(sql);  // sqlite3_exec needs NUL termination
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return SqliteError(sqlite3_extended_errcode(db_), msg, "exec");
  }
  return OkStatus();
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

bool SqliteDb::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Error SqliteDb::MakeError(int rc, std::string_view context) const {
  int ext = sqlite3_extended_errcode(db_);
  // The connection's extended code belongs to the last failing call; prefer
  // it when it refines the primary code we got.
  if ((ext & 0xff) != (rc & 0xff)) ext = rc;
  return SqliteError(ext, sqlite3_errmsg(db_), context);
}

Status SqliteDb::RegisterFunction(const std::string& name, int arity, Function fn) {
  auto owned = std::make_unique<Function>(std::move(fn));
  int rc = sqlite3_create_function_v2(
      db_, name.c_str(), arity, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
      owned.get(), &CallFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return MakeError(rc, "register function " + name);
  functions_.push_back(std::move(owned));
  return OkStatus();
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

Status SqliteStatement::Bind(std::span<const Value> params) {
  int n = sqlite3_bind_parameter_count(stmt_);
  if (static_cast<size_t>(n) != params.size())
    return Internal("statement has " + std::to_string(n) + " parameters, " +
                        std::to_string(params.size()) + " given",
                    "STORAGE_ERROR");
  for (int i = 0; i < n; ++i) {
    const Value& v = params[static_cast<size_t>(i)];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(v)) {
      rc = sqlite3_bind_null(stmt_, i + 1);
    } else if (const auto* x = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt_, i + 1, *x);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt_, i + 1, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text64(stmt_, i + 1, s->data(), s->size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
    } else if (const auto* b = std::get_if<Bytes>(&v)) {
      // A zero-length blob must still bind as a blob, not NULL.
      static const uint8_t kEmpty = 0;
      rc = sqlite3_bind_blob64(stmt_, i + 1, b->empty() ? &kEmpty : b->data(), b->size(),
                               SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return db_->MakeError(rc, "bind parameter " + std::to_string(i + 1));
  }
  return OkStatus();
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->MakeError(rc, "step");
}

Row SqliteStatement::CurrentRow() const {
  int n = sqlite3_column_count(stmt_);
  std::vector<Value> values;
  values.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    switch (sqlite3_column_type(stmt_, i)) {
      case SQLITE_INTEGER:
        values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt_, i)));
        break;
      case SQLITE_FLOAT:
        values.emplace_back(sqlite3_column_double(stmt_, i));
        break;
      case SQLITE_TEXT: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
        int len = sqlite3_column_bytes(stmt_, i);
        values.emplace_back(std::string(p ? p : "", static_cast<size_t>(p ? len : 0)));
        break;
      }
      case SQLITE_BLOB: {
        const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
        int len = sqlite3_column_bytes(stmt_, i);
        values.emplace_back(p ? Bytes(p, p + len) : Bytes());
        break;
      }
      default:
        values.emplace_back(std::monostate{});
    }
  }
  return Row(std::move(values));
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

}  // namespace cloister::storage::sys
