// FileCatalog: cloister-storage's metadata in the storage/ engine (SQLite by
// default): completed files and open upload sessions, with their labels.
// It never sees ciphertext (BlobStore holds that).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto catalog, FileCatalog::Open("sqlite:///data/storage.db"));
//   CLOISTER_RETURN_IF_ERROR(catalog->CreateSession(session, {.bytes = 10 << 30, .files = 100}));
//   CLOISTER_ASSIGN_OR_RETURN(FileRow f, catalog->CompleteSession(session, file));
//
// Quota: an owner's usage is the sum of the sizes of its files plus the
// declared sizes of its open sessions (and their count): a session
// reserves its full size when created, so parallel uploads cannot together
// exceed the quota. The check and the insert run in ONE transaction.
// Thread-safe (the engine serializes transactions).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "storage/engine.h"

namespace cloister::storage_service {

using Labels = std::map<std::string, std::string>;

struct FileRow {
  std::string file_id;
  std::string owner;
  uint64_t size = 0;            // ciphertext bytes
  uint64_t plaintext_size = 0;  // from the format header
  uint32_t chunk_size = 0;
  uint64_t chunk_count = 0;
  Bytes sha256;
  int64_t created_unix = 0;
  std::string description;
  Labels labels;
  int64_t seq = 0;  // listing order (completion order); set by CompleteSession
};

struct SessionRow {
  std::string upload_id;
  std::string file_id;
  std::string owner;
  uint64_t size = 0;      // declared ciphertext size
  uint64_t received = 0;  // durable offset
  int64_t created_unix = 0;
  int64_t expires_unix = 0;
  std::string description;
  Labels labels;
};

struct Quota {
  uint64_t bytes = 0;
  uint64_t files = 0;
};

struct Usage {
  uint64_t bytes = 0;
  uint64_t files = 0;
};

class FileCatalog {
 public:
  // Opens the engine at `url` and applies kStorageMigrations.
  static Result<std::unique_ptr<FileCatalog>> Open(std::string_view url);
  explicit FileCatalog(std::unique_ptr<storage::Engine> db) : db_(std::move(db)) {}

  // In one transaction: AlreadyExists [FILE_EXISTS] if the file id is
  // stored or in a session; ResourceExhausted [QUOTA_BYTES_EXCEEDED] /
  // [QUOTA_FILES_EXCEEDED] (saying used/limit/requested) if the owner's
  // usage plus this session would pass `quota`; else inserts the session.
  Status CreateSession(const SessionRow& s, const Quota& quota);
  // nullopt when absent. With labels.
  Result<std::optional<SessionRow>> GetSession(std::string_view upload_id);
  Result<std::optional<SessionRow>> SessionForFile(std::string_view file_id);
  // Records a new durable offset (never moves it back). NotFound
  // [UPLOAD_NOT_FOUND] if the session is gone (aborted or collected).
  Status SetReceived(std::string_view upload_id, uint64_t received);
  // Session row and its labels; false if it was already gone.
  Result<bool> DeleteSession(std::string_view upload_id);
  // Sessions with expires_unix ≤ now, oldest first, at most `limit` (no labels).
  Result<std::vector<SessionRow>> ExpiredSessions(int64_t now, size_t limit);

  // In one transaction: inserts `file` (its labels are the session's) with
  // the next seq and deletes the session. NotFound [UPLOAD_NOT_FOUND] if the
  // session is gone; AlreadyExists [FILE_EXISTS] if the file id is stored.
  Result<FileRow> CompleteSession(const SessionRow& s, FileRow file);
  // nullopt when absent. With labels.
  Result<std::optional<FileRow>> GetFile(std::string_view file_id);
  // `owner`'s files with seq < before_seq (0: from the newest), newest
  // first, at most `limit`. With labels.
  Result<std::vector<FileRow>> ListFiles(std::string_view owner, int64_t before_seq, size_t limit);
  // File row and its labels; false if it was already gone.
  Result<bool> DeleteFile(std::string_view file_id);

  Result<Usage> UsageOf(std::string_view owner);

 private:
  std::unique_ptr<storage::Engine> db_;
};

}  // namespace cloister::storage_service
