// cloister-storage's metadata in SQL; see file_catalog.h.
#include "services/storage/file_catalog.h"

#include "services/storage/migrations/storage_migrations.h"
#include "services/storage/storage_reasons.h"

namespace cloister::storage_service {
namespace {

constexpr std::string_view kFileColumns =
    "file_id, owner, size, plaintext_size, chunk_size, chunk_count, sha256, created_unix, "
    "description, seq";
constexpr std::string_view kSessionColumns =
    "upload_id, file_id, owner, size, received, created_unix, expires_unix, description";

Error Inconsistent(std::string_view what) {
  return DataLoss("storage catalog row out of range: " + std::string(what),
                  reason::kCatalogInconsistent);
}

Result<uint64_t> GetSize(const storage::Row& row, size_t i) {
  CLOISTER_ASSIGN_OR_RETURN(int64_t v, row.GetInt(i));
  if (v < 0) return Inconsistent("negative size");
  return static_cast<uint64_t>(v);
}

Result<FileRow> RowToFile(const storage::Row& row) {
  FileRow f;
  CLOISTER_ASSIGN_OR_RETURN(f.file_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(f.owner, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(f.size, GetSize(row, 2));
  CLOISTER_ASSIGN_OR_RETURN(f.plaintext_size, GetSize(row, 3));
  CLOISTER_ASSIGN_OR_RETURN(uint64_t chunk_size, GetSize(row, 4));
  if (chunk_size > UINT32_MAX) return Inconsistent("chunk size");
  f.chunk_size = static_cast<uint32_t>(chunk_size);
  CLOISTER_ASSIGN_OR_RETURN(f.chunk_count, GetSize(row, 5));
  CLOISTER_ASSIGN_OR_RETURN(f.sha256, row.GetBlob(6));
  CLOISTER_ASSIGN_OR_RETURN(f.created_unix, row.GetInt(7));
  CLOISTER_ASSIGN_OR_RETURN(f.description, row.GetText(8));
  CLOISTER_ASSIGN_OR_RETURN(f.seq, row.GetInt(9));
  return f;
}

Result<SessionRow> RowToSession(const storage::Row& row) {
  SessionRow s;
  CLOISTER_ASSIGN_OR_RETURN(s.upload_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(s.file_id, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(s.owner, row.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(s.size, GetSize(row, 3));
  CLOISTER_ASSIGN_OR_RETURN(s.received, GetSize(row, 4));
  if (s.received > s.size) return Inconsistent("received beyond size");
  CLOISTER_ASSIGN_OR_RETURN(s.created_unix, row.GetInt(5));
  CLOISTER_ASSIGN_OR_RETURN(s.expires_unix, row.GetInt(6));
  CLOISTER_ASSIGN_OR_RETURN(s.description, row.GetText(7));
  return s;
}

Result<Labels> LoadLabels(storage::Executor& ex, std::string_view table, std::string_view id_column,
                          std::string_view id) {
  CLOISTER_ASSIGN_OR_RETURN(auto rows, ex.Query("SELECT k, v FROM " + std::string(table) +
                                                    " WHERE " + std::string(id_column) + " = ?",
                                                {std::string(id)}));
  Labels labels;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(std::string k, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(std::string v, r.GetText(1));
    labels.emplace(std::move(k), std::move(v));
  }
  return labels;
}

Result<std::optional<SessionRow>> LoadSession(storage::Executor& ex, std::string_view where,
                                              std::string_view key) {
  CLOISTER_ASSIGN_OR_RETURN(auto row, ex.QueryRow("SELECT " + std::string(kSessionColumns) +
                                                      " FROM upload_sessions WHERE " +
                                                      std::string(where) + " = ?",
                                                  {std::string(key)}));
  if (!row) return std::optional<SessionRow>();
  CLOISTER_ASSIGN_OR_RETURN(SessionRow s, RowToSession(*row));
  CLOISTER_ASSIGN_OR_RETURN(s.labels, LoadLabels(ex, "upload_labels", "upload_id", s.upload_id));
  return std::optional<SessionRow>(std::move(s));
}

Result<bool> FileIdTaken(storage::Executor& ex, std::string_view file_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT (SELECT COUNT(*) FROM files WHERE file_id = ?) + "
                            "(SELECT COUNT(*) FROM upload_sessions WHERE file_id = ?)",
                            {std::string(file_id), std::string(file_id)}));
  if (!row) return Inconsistent("count");
  CLOISTER_ASSIGN_OR_RETURN(int64_t n, row->GetInt(0));
  return n > 0;
}

Result<Usage> LoadUsage(storage::Executor& ex, std::string_view owner) {
  Usage u;
  for (std::string_view table : {"files", "upload_sessions"}) {
    CLOISTER_ASSIGN_OR_RETURN(
        auto row, ex.QueryRow("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM " +
                                  std::string(table) + " WHERE owner = ?",
                              {std::string(owner)}));
    if (!row) return Inconsistent("usage");
    CLOISTER_ASSIGN_OR_RETURN(uint64_t bytes, GetSize(*row, 0));
    CLOISTER_ASSIGN_OR_RETURN(uint64_t files, GetSize(*row, 1));
    u.bytes += bytes;
    u.files += files;
  }
  return u;
}

Status CheckQuota(const Usage& used, const Quota& q, uint64_t requested) {
  if (requested > q.bytes || used.bytes > q.bytes - requested)
    return ResourceExhausted("storage quota: " + std::to_string(used.bytes) + " of " +
                                 std::to_string(q.bytes) + " bytes used, this upload needs " +
                                 std::to_string(requested),
                             reason::kQuotaBytes);
  if (used.files >= q.files)
    return ResourceExhausted("storage quota: " + std::to_string(used.files) + " of " +
                                 std::to_string(q.files) + " files used, this upload needs 1",
                             reason::kQuotaFiles);
  return OkStatus();
}

Status InsertLabels(storage::Tx& tx, std::string_view table, std::string_view id_column,
                    std::string_view id, const Labels& labels) {
  for (const auto& [k, v] : labels)
    CLOISTER_RETURN_IF_ERROR(tx.Execute("INSERT INTO " + std::string(table) + " (" +
                                            std::string(id_column) + ", k, v) VALUES (?, ?, ?)",
                                        {std::string(id), k, v}));
  return OkStatus();
}

Error FileExists() {
  return AlreadyExists("a file with this id is stored or being uploaded", reason::kFileExists);
}

}  // namespace

Result<std::unique_ptr<FileCatalog>> FileCatalog::Open(std::string_view url) {
  CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open(url));
  CLOISTER_RETURN_IF_ERROR(db->Migrate(kStorageMigrations));
  return std::make_unique<FileCatalog>(std::move(db));
}

Status FileCatalog::CreateSession(const SessionRow& s, const Quota& quota) {
  return db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(bool taken, FileIdTaken(tx, s.file_id));
    if (taken) return FileExists();
    CLOISTER_ASSIGN_OR_RETURN(Usage used, LoadUsage(tx, s.owner));
    CLOISTER_RETURN_IF_ERROR(CheckQuota(used, quota, s.size));
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO upload_sessions (" + std::string(kSessionColumns) +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {s.upload_id, s.file_id, s.owner, static_cast<int64_t>(s.size),
         static_cast<int64_t>(s.received), s.created_unix, s.expires_unix, s.description}));
    return InsertLabels(tx, "upload_labels", "upload_id", s.upload_id, s.labels);
  });
}

Result<std::optional<SessionRow>> FileCatalog::GetSession(std::string_view upload_id) {
  return LoadSession(*db_, "upload_id", upload_id);
}

Result<std::optional<SessionRow>> FileCatalog::SessionForFile(std::string_view file_id) {
  return LoadSession(*db_, "file_id", file_id);
}

Status FileCatalog::SetReceived(std::string_view upload_id, uint64_t received) {
  CLOISTER_ASSIGN_OR_RETURN(
      int64_t n, db_->ExecuteChanges("UPDATE upload_sessions SET received = MAX(received, ?) "
                                     "WHERE upload_id = ?",
                                     {static_cast<int64_t>(received), std::string(upload_id)}));
  if (n == 0) return NotFound("the upload session is gone", reason::kUploadNotFound);
  return OkStatus();
}

Result<bool> FileCatalog::DeleteSession(std::string_view upload_id) {
  bool existed = false;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(
        int64_t n, tx.ExecuteChanges("DELETE FROM upload_sessions WHERE upload_id = ?",
                                     {std::string(upload_id)}));
    existed = n > 0;
    return tx.Execute("DELETE FROM upload_labels WHERE upload_id = ?", {std::string(upload_id)});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return existed;
}

Result<std::vector<SessionRow>> FileCatalog::ExpiredSessions(int64_t now, size_t limit) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT " + std::string(kSessionColumns) +
                                " FROM upload_sessions WHERE expires_unix <= ? "
                                "ORDER BY expires_unix LIMIT ?",
                            {now, static_cast<int64_t>(limit)}));
  std::vector<SessionRow> out;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(SessionRow s, RowToSession(r));
    out.push_back(std::move(s));
  }
  return out;
}

Result<FileRow> FileCatalog::CompleteSession(const SessionRow& s, FileRow f) {
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto current, LoadSession(tx, "upload_id", s.upload_id));
    if (!current || current->file_id != f.file_id)
      return NotFound("the upload session is gone", reason::kUploadNotFound);
    CLOISTER_ASSIGN_OR_RETURN(auto stored,
                              tx.QueryRow("SELECT 1 FROM files WHERE file_id = ?", {f.file_id}));
    if (stored) return FileExists();
    CLOISTER_ASSIGN_OR_RETURN(auto seq_row, tx.QueryRow("SELECT COALESCE(MAX(seq), 0) + 1 FROM files"));
    if (!seq_row) return Inconsistent("seq");
    CLOISTER_ASSIGN_OR_RETURN(f.seq, seq_row->GetInt(0));
    f.labels = current->labels;
    f.description = current->description;
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO files (" + std::string(kFileColumns) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {f.file_id, f.owner, static_cast<int64_t>(f.size), static_cast<int64_t>(f.plaintext_size),
         int64_t{f.chunk_size}, static_cast<int64_t>(f.chunk_count), f.sha256, f.created_unix,
         f.description, f.seq}));
    CLOISTER_RETURN_IF_ERROR(InsertLabels(tx, "file_labels", "file_id", f.file_id, f.labels));
    CLOISTER_RETURN_IF_ERROR(
        tx.Execute("DELETE FROM upload_sessions WHERE upload_id = ?", {s.upload_id}));
    return tx.Execute("DELETE FROM upload_labels WHERE upload_id = ?", {s.upload_id});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return f;
}

Result<std::optional<FileRow>> FileCatalog::GetFile(std::string_view file_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, db_->QueryRow("SELECT " + std::string(kFileColumns) + " FROM files WHERE file_id = ?",
                              {std::string(file_id)}));
  if (!row) return std::optional<FileRow>();
  CLOISTER_ASSIGN_OR_RETURN(FileRow f, RowToFile(*row));
  CLOISTER_ASSIGN_OR_RETURN(f.labels, LoadLabels(*db_, "file_labels", "file_id", f.file_id));
  return std::optional<FileRow>(std::move(f));
}

Result<std::vector<FileRow>> FileCatalog::ListFiles(std::string_view owner, int64_t before_seq,
                                                    size_t limit) {
  const int64_t before = before_seq > 0 ? before_seq : INT64_MAX;
  const storage::Value params[] = {std::string(owner), before, static_cast<int64_t>(limit)};
  constexpr std::string_view kPage =
      "FROM files WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?";
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT " + std::string(kFileColumns) + " " + std::string(kPage), params));
  std::vector<FileRow> files;
  std::map<std::string, size_t, std::less<>> index;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, RowToFile(r));
    index.emplace(f.file_id, files.size());
    files.push_back(std::move(f));
  }
  if (files.empty()) return files;
  // The page's labels in one query (a file deleted in between just has none).
  CLOISTER_ASSIGN_OR_RETURN(
      auto labels, db_->Query("SELECT file_id, k, v FROM file_labels WHERE file_id IN "
                              "(SELECT file_id " + std::string(kPage) + ")",
                              params));
  for (const auto& r : labels) {
    CLOISTER_ASSIGN_OR_RETURN(std::string id, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(std::string k, r.GetText(1));
    CLOISTER_ASSIGN_OR_RETURN(std::string v, r.GetText(2));
    if (auto it = index.find(id); it != index.end())
      files[it->second].labels.emplace(std::move(k), std::move(v));
  }
  return files;
}

Result<bool> FileCatalog::DeleteFile(std::string_view file_id) {
  bool existed = false;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(
        int64_t n, tx.ExecuteChanges("DELETE FROM files WHERE file_id = ?", {std::string(file_id)}));
    existed = n > 0;
    return tx.Execute("DELETE FROM file_labels WHERE file_id = ?", {std::string(file_id)});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return existed;
}

Result<Usage> FileCatalog::UsageOf(std::string_view owner) { return LoadUsage(*db_, owner); }

}  // namespace cloister::storage_service
