// Raw SQLite C API wrapper (see sqlite_db.h): connection setup, statements,
// binding, row extraction and error mapping. Nothing else includes sqlite3.h.
#include "storage/sys/sqlite_db.h"

#include <sqlite3.h>

#include <cctype>
#include <limits>

namespace cloister::storage::sys {
namespace {

bool OnlyTrailingNoise(const char* tail, const char* end) {
  for (const char* p = tail; p < end; ++p)
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') return false;
  return true;
}

}  // namespace

Error SqliteError(int rc, std::string_view message, std::string_view context) {
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
