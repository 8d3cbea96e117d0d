// Engine::Open (URL dispatch) and the engine-independent parts: QueryRow and
// versioned migrations recorded in schema_migrations.
#include "storage/engine.h"

#include "common/crypto/hash.h"
#include "storage/sqlite_engine.h"

namespace cloister::storage {

Result<std::optional<Row>> Executor::QueryRow(std::string_view sql, Params params) {
  CLOISTER_ASSIGN_OR_RETURN(std::vector<Row> rows, DoQuery(sql, params));
  if (rows.empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows.front()));
}

Result<std::unique_ptr<Engine>> Engine::Open(std::string_view url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url == "sqlite::memory:") return OpenSqliteEngine(":memory:", {});
  if (url.starts_with(kSqlite)) {
    std::string_view path = url.substr(kSqlite.size());
    // Query strings and fragments are not supported; refusing them keeps a
    // path from ever being interpreted as options.
    if (path.empty() || path[0] != '/' || path.find_first_of("?#") != std::string_view::npos ||
        path.find('\0') != std::string_view::npos)
      return InvalidArgument("expected sqlite:///absolute/path.db", reason::kBadUrl);
    return OpenSqliteEngine(std::string(path), {});
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://"))
    return Unimplemented("PostgreSQL engine lands with the multi-node issue");
  return InvalidArgument("unknown storage URL scheme (want sqlite:// or postgresql://)",
                         reason::kBadUrl);
}

Result<int64_t> Engine::SchemaVersion() {
  CLOISTER_RETURN_IF_ERROR(Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "name TEXT NOT NULL, sha256 TEXT NOT NULL, applied_unix INTEGER NOT NULL)"));
  CLOISTER_ASSIGN_OR_RETURN(auto row,
                            QueryRow("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  if (!row) return int64_t{0};
  return row->GetInt(0);
}

Status Engine::Migrate(std::span<const Migration> migrations) {
  int64_t prev = 0;
  for (const Migration& m : migrations) {
    if (m.version <= prev)
      return InvalidArgument("migration versions must be positive and strictly increasing");
    prev = m.version;
  }
  CLOISTER_ASSIGN_OR_RETURN(int64_t current, SchemaVersion());
  if (current > prev)
    return FailedPrecondition("database schema is at version " + std::to_string(current) +
                                  ", newer than this binary's " + std::to_string(prev),
                              reason::kMigration);
  for (const Migration& m : migrations) {
    std::string digest = HexEncode(crypto::DigestBytes(crypto::Sha256(m.sql)));
    CLOISTER_RETURN_IF_ERROR(Transaction([&](Tx& tx) -> Status {
      CLOISTER_ASSIGN_OR_RETURN(
          auto row, tx.QueryRow("SELECT sha256 FROM schema_migrations WHERE version = ?",
                                {m.version}));
      if (row) {
        CLOISTER_ASSIGN_OR_RETURN(std::string stored, row->GetText(0));
        if (stored != digest)
          return FailedPrecondition("migration " + std::to_string(m.version) + " (" +
                                        std::string(m.name) + ") changed after it was applied",
                                    reason::kMigration);
        return OkStatus();
      }
      Status st = ExecScript(tx, m.sql);
      if (!st.ok())
        return st.error().WithContext("migration " + std::to_string(m.version) + " (" +
                                      std::string(m.name) + ")");
      return tx.Execute(
          "INSERT INTO schema_migrations(version, name, sha256, applied_unix) "
          "VALUES (?, ?, ?, CAST(strftime('%s','now') AS INTEGER))",
          {m.version, std::string(m.name), digest});
    }));
  }
  return OkStatus();
}

}  // namespace cloister::storage
