// The SQLite engine (docs/design.md §7, the embedded default): one connection
// per Engine, serialized by a mutex; write transactions use BEGIN IMMEDIATE
// so two writers never deadlock upgrading a read lock, and the busy timeout
// covers other processes holding the write lock.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto db, OpenSqliteEngine("/data/auth.db", {}));
#pragma once

#include <memory>
#include <string>

#include "storage/engine.h"

namespace cloister::storage {

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  size_t statement_cache_size = 64;
};

// `path`: absolute file path, or ":memory:". Creates the file (mode 0600) and
// its directory (0700) if missing.
Result<std::unique_ptr<Engine>> OpenSqliteEngine(const std::string& path, SqliteOptions options);

}  // namespace cloister::storage
