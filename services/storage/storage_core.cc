// cloister-storage's logic: sessions, completion, access and files; see
// storage_core.h (the streams are in storage_streams.cc, deletion and
// collection in storage_collect.cc).
#include "services/storage/storage_core.h"

#include <algorithm>
#include <ctime>

#include "common/crypto/random.h"
#include "common/logging.h"
#include "services/storage/request_checks.h"
#include "services/storage/storage_core_detail.h"

namespace cloister::storage_service {
namespace {

using detail::FileNotFound;

int64_t WallClock() { return static_cast<int64_t>(std::time(nullptr)); }

Error UploadNotFound() {
  return NotFound("no such upload session (or not yours)", reason::kUploadNotFound);
}

// Hashes the first `n` bytes of a part file, 1 MiB at a time.
Result<UploadHash> HashPrefix(const posix::PosixFile& f, uint64_t n) {
  UploadHash h;
  Bytes buf(static_cast<size_t>(std::min<uint64_t>(n, kDownloadPieceBytes)));
  while (h.hashed < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - h.hashed));
    CLOISTER_ASSIGN_OR_RETURN(size_t got, f.ReadAt(h.hashed, std::span(buf.data(), want)));
    if (got != want)
      return DataLoss("the upload's part file is shorter than its durable offset",
                      reason::kUploadDataLost);
    h.hasher.Update(ByteView(buf.data(), got));
    h.hashed += got;
  }
  return h;
}

crypto::Digest FinalDigest(UploadHash& h) {
  if (!h.digest) h.digest = h.hasher.Finish();
  return *h.digest;
}

}  // namespace

filestore::FileInfo ToFileInfo(const FileRow& f) {
  filestore::FileInfo info;
  info.set_file_id(f.file_id);
  info.set_owner_user_id(f.owner);
  info.set_size(f.size);
  info.set_plaintext_size(f.plaintext_size);
  info.set_chunk_size(f.chunk_size);
  info.set_chunk_count(f.chunk_count);
  info.set_sha256(f.sha256.data(), f.sha256.size());
  info.set_created_unix(f.created_unix);
  info.set_description(f.description);
  for (const auto& [k, v] : f.labels) (*info.mutable_labels())[k] = v;
  return info;
}

Result<std::unique_ptr<StorageCore>> StorageCore::Open(const std::string& data_dir,
                                                       std::string_view db_url,
                                                       KeyShredder shredder,
                                                       services::AuditLog* audit,
                                                       StorageOptions options,
                                                       std::function<int64_t()> clock) {
  CLOISTER_ASSIGN_OR_RETURN(auto catalog, FileCatalog::Open(db_url));
  CLOISTER_ASSIGN_OR_RETURN(auto blobs, BlobStore::Open(data_dir));
  return std::make_unique<StorageCore>(std::move(catalog), std::move(blobs), std::move(shredder),
                                       audit, options, std::move(clock));
}

StorageCore::StorageCore(std::unique_ptr<FileCatalog> catalog, std::unique_ptr<BlobStore> blobs,
                         KeyShredder shredder, services::AuditLog* audit, StorageOptions options,
                         std::function<int64_t()> clock)
    : catalog_(std::move(catalog)),
      blobs_(std::move(blobs)),
      shredder_(std::move(shredder)),
      audit_(audit),
      options_(options),
      clock_(clock ? std::move(clock) : WallClock) {
  // Sizes are SQL integers (signed 64 bits); the quota bounds every size.
  options_.quota_bytes = std::min<uint64_t>(options_.quota_bytes, INT64_MAX);
  options_.max_message_bytes = std::max<uint32_t>(options_.max_message_bytes, 1);
  options_.durable_every_bytes = std::max<uint64_t>(options_.durable_every_bytes, 1);
}

// ---- plumbing ----

Status StorageCore::Audit(std::string_view principal, std::string_view op, const Status& outcome,
                          std::string_view request_id, std::string_view file_id,
                          std::string_view task_id) {
  if (audit_ == nullptr) return OkStatus();
  services::AuditEntry e;
  e.principal = std::string(principal);
  e.method = "storage." + std::string(op);
  e.decision = outcome.ok() ? "allow" : "deny";
  if (!outcome.ok())
    e.reason = outcome.error().reason().empty() ? std::string(CodeName(outcome.code()))
                                                : outcome.error().reason();
  e.request_id = std::string(request_id);
  // The file id only (the log HMACs it): never contents or keys.
  if (!file_id.empty()) e.resources.push_back(std::string(file_id));
  if (!task_id.empty()) e.resources.push_back("task:" + std::string(task_id));
  if (Status st = audit_->Append(e); !st.ok()) {
    LOG_ERROR("storage audit append failed; refusing the result", {{"error", st.ToString()}});
    return Unavailable("audit log unavailable", reason::kAuditUnavailable);
  }
  return OkStatus();
}

Status StorageCore::CheckUser(const Caller& c) const {
  // Files and sessions belong to users; anonymous and service principals own nothing.
  if (c.kind() != Caller::Kind::kUser)
    return Unauthenticated("storage operations need an authenticated user",
                           reason::kUnauthenticated);
  return OkStatus();
}

Status StorageCore::CheckExec(const Caller& c) const {
  // The method table lets only the exec enclave call the task methods; the
  // core checks the proven caller too (a user named "service:exec" is a user).
  if (!c.is_service() || c.user_id() != kExecPrincipal)
    return PermissionDenied("only the execution enclave reads and stores files for tasks",
                            reason::kExecOnly);
  return OkStatus();
}

Result<SessionClaim> StorageCore::Claim(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  if (!claimed_.insert(upload_id).second)
    return Aborted("another stream or call is using this upload session", reason::kUploadBusy);
  return SessionClaim(this, upload_id);
}

void StorageCore::Release(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  claimed_.erase(upload_id);
}

Result<SessionRow> StorageCore::OwnSession(std::string_view owner, const std::string& upload_id) {
  CLOISTER_ASSIGN_OR_RETURN(auto s, catalog_->GetSession(upload_id));
  // An expired session is as good as collected (the collector runs each minute).
  if (!s || owner.empty() || s->owner != owner || s->expires_unix <= clock_())
    return UploadNotFound();
  return *std::move(s);
}

std::optional<UploadHash> StorageCore::TakeHash(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  auto it = hashes_.find(upload_id);
  if (it == hashes_.end()) return std::nullopt;
  std::optional<UploadHash> h(std::move(it->second));
  hashes_.erase(it);
  return h;
}

void StorageCore::PutHash(const std::string& upload_id, UploadHash h) {
  std::lock_guard lock(mu_);
  hashes_.insert_or_assign(upload_id, std::move(h));
}

void StorageCore::ForgetHash(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  if (auto it = hashes_.find(upload_id); it != hashes_.end()) hashes_.erase(it);
}

filestore::UploadSession StorageCore::ToProto(const SessionRow& s) const {
  filestore::UploadSession p;
  p.set_upload_id(s.upload_id);
  p.set_file_id(s.file_id);
  p.set_size(s.size);
  p.set_received(s.received);
  p.set_created_unix(s.created_unix);
  p.set_expires_unix(s.expires_unix);
  p.set_max_message_bytes(options_.max_message_bytes);
  return p;
}

std::map<std::string, uint64_t> StorageCore::Counters() const {
  return {{"uploads_started", uploads_started_.load()},
          {"uploads_completed", uploads_completed_.load()},
          {"uploads_collected", uploads_collected_.load()},
          {"bytes_received", bytes_received_.load()},
          {"bytes_sent", bytes_sent_.load()},
          {"files_deleted", files_deleted_.load()},
          {"refusals", refusals_.load()},
          {"reads_for_tasks", reads_for_tasks_.load()},
          {"outputs_stored", outputs_stored_.load()}};
}

// ---- access ----

Result<FileRow> StorageCore::Authorize(const Caller& c, std::string_view file_id, Access access,
                                       const internal::TaskGrant* task) {
  CLOISTER_RETURN_IF_ERROR(CheckFileId(file_id));
  if (c.anonymous())
    return Unauthenticated("storage operations need an authenticated caller",
                           reason::kUnauthenticated);
  CLOISTER_ASSIGN_OR_RETURN(auto f, catalog_->GetFile(file_id));
  if (!f) return FileNotFound();
  const bool user = c.kind() == Caller::Kind::kUser;
  if (user && f->owner == c.user_id()) return *std::move(f);
  switch (access) {
    case Access::kRead: {
      // Owner only: an admin may delete a file but never read it. And the
      // execution enclave, for a task: its verified grant must name this
      // file as an input of its owner, with the ciphertext hash the parties
      // approved (the stored one: a file deleted and uploaded again under
      // the same id, or changed in any way, is not the approved input).
      if (task == nullptr || !c.is_service() || c.user_id() != kExecPrincipal) break;
      const internal::TaskGrantInput* in = services::GrantedInput(*task, f->file_id, f->owner);
      if (in != nullptr && in->ciphertext_sha256().size() == crypto::kSha256Size &&
          ConstantTimeEqual(AsBytes(in->ciphertext_sha256()), f->sha256))
        return *std::move(f);
      break;
    }
    case Access::kStat:
    case Access::kDelete:
      if (user && c.is_admin()) return *std::move(f);
      break;
  }
  return FileNotFound();
}

// ---- sessions ----

Result<filestore::CreateUploadResponse> StorageCore::CreateUpload(
    const Caller& c, const filestore::CreateUploadRequest& r) {
  return Call<filestore::CreateUploadResponse>(c, "CreateUpload", true, [&](Trace& t)
                                                   -> Result<filestore::CreateUploadResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_ASSIGN_OR_RETURN(SessionRow s, NewSession(c.user_id(), r, t));
    uploads_started_++;
    filestore::CreateUploadResponse resp;
    *resp.mutable_session() = ToProto(s);
    return resp;
  });
}

Result<SessionRow> StorageCore::NewSession(std::string_view owner,
                                           const filestore::CreateUploadRequest& r, Trace& t) {
  CLOISTER_RETURN_IF_ERROR(CheckFileId(r.file_id()));
  t.file_id = r.file_id();
  if (r.size() < kMinFileSize)
    return InvalidArgument("size must be at least " + std::to_string(kMinFileSize) +
                               " bytes (a file header and one chunk tag)",
                           reason::kSizeInvalid);
  CLOISTER_RETURN_IF_ERROR(CheckDescription(r.description()));
  Labels labels;
  for (const auto& kv : r.labels()) labels.emplace(kv.first, kv.second);
  CLOISTER_RETURN_IF_ERROR(CheckLabels(labels));
  const int64_t now = clock_();
  SessionRow s;
  s.upload_id = crypto::RandomId();
  s.file_id = r.file_id();
  s.owner = std::string(owner);
  s.size = r.size();
  s.created_unix = now;
  s.expires_unix = now + options_.upload_ttl_s;
  s.description = r.description();
  s.labels = std::move(labels);
  // The quota check (and the size ≤ quota rule) and the insert: one transaction.
  CLOISTER_RETURN_IF_ERROR(
      catalog_->CreateSession(s, {.bytes = options_.quota_bytes, .files = options_.quota_files}));
  if (Status st = blobs_->CreatePart(s.upload_id); !st.ok()) {
    catalog_->DeleteSession(s.upload_id).status().IgnoreError();
    return st.error();
  }
  return s;
}

Result<filestore::GetUploadResponse> StorageCore::GetUpload(const Caller& c,
                                                           const filestore::GetUploadRequest& r) {
  return Call<filestore::GetUploadResponse>(c, "GetUpload", false, [&](Trace&)
                                                -> Result<filestore::GetUploadResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_RETURN_IF_ERROR(CheckUploadId(r.upload_id()));
    CLOISTER_ASSIGN_OR_RETURN(SessionRow s, OwnSession(c.user_id(), r.upload_id()));
    filestore::GetUploadResponse resp;
    *resp.mutable_session() = ToProto(s);
    return resp;
  });
}

Result<std::unique_ptr<UploadStream>> StorageCore::OpenUploadStream(
    const Caller& c, const filestore::UploadChunksRequest& first) {
  auto opened = [&]() -> Result<std::unique_ptr<UploadStream>> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_RETURN_IF_ERROR(CheckUploadId(first.upload_id()));
    return OpenSessionStream(c.user_id(), first.upload_id());
  }();
  if (!opened.ok()) {
    refusals_++;
    return opened;
  }
  // Append counts its own refusal; on error the stream is dropped, which
  // releases the session (nothing was written).
  CLOISTER_RETURN_IF_ERROR((*opened)->Append(first));
  return opened;
}

Result<std::unique_ptr<UploadStream>> StorageCore::OpenSessionStream(std::string_view owner,
                                                                     const std::string& upload_id) {
  CLOISTER_ASSIGN_OR_RETURN(SessionClaim claim, Claim(upload_id));
  CLOISTER_ASSIGN_OR_RETURN(SessionRow s, OwnSession(owner, upload_id));
  CLOISTER_ASSIGN_OR_RETURN(posix::PosixFile part, blobs_->OpenPart(s.upload_id));
  CLOISTER_ASSIGN_OR_RETURN(uint64_t on_disk, part.Size());
  if (on_disk < s.received)
    return DataLoss("the upload's part file lost acknowledged data; abort and restart it",
                    reason::kUploadDataLost);
  // Bytes past the durable offset were never acknowledged (a crash before
  // their fsync and catalog update): the client resends from `received`.
  if (on_disk > s.received) CLOISTER_RETURN_IF_ERROR(part.Truncate(s.received));
  std::optional<UploadHash> hash = TakeHash(s.upload_id);
  if (!hash || hash->hashed != s.received) {
    // A new process (or a stream whose last sync failed): rehash the prefix.
    CLOISTER_ASSIGN_OR_RETURN(UploadHash h, HashPrefix(part, s.received));
    hash.emplace(std::move(h));
  }
  return std::make_unique<UploadStream>(UploadStream::Key(), this, std::move(claim),
                                        std::move(s), std::move(part), *std::move(hash));
}

Result<filestore::CompleteUploadResponse> StorageCore::CompleteUpload(
    const Caller& c, const filestore::CompleteUploadRequest& r) {
  return Call<filestore::CompleteUploadResponse>(c, "CompleteUpload", true, [&](Trace& t)
                                                     -> Result<filestore::CompleteUploadResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_RETURN_IF_ERROR(CheckUploadId(r.upload_id()));
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, CompleteSession(c.user_id(), r.upload_id(), r.sha256(), t));
    uploads_completed_++;
    filestore::CompleteUploadResponse resp;
    *resp.mutable_file() = ToFileInfo(f);
    return resp;
  });
}

Result<FileRow> StorageCore::CompleteSession(std::string_view owner, const std::string& upload_id,
                                             std::string_view sha256, Trace& t) {
  if (sha256.size() != crypto::kSha256Size)
    return InvalidArgument("sha256 must be 32 bytes", reason::kSha256Invalid);
  CLOISTER_ASSIGN_OR_RETURN(SessionClaim claim, Claim(upload_id));
  CLOISTER_ASSIGN_OR_RETURN(SessionRow s, OwnSession(owner, upload_id));
  t.file_id = s.file_id;
  if (s.received != s.size)
    return FailedPrecondition("received " + std::to_string(s.received) + " of " +
                                  std::to_string(s.size) + " bytes",
                              reason::kUploadIncomplete);
  files::FileHeader header;
  crypto::Digest digest{};
  {
    CLOISTER_ASSIGN_OR_RETURN(posix::PosixFile part, blobs_->OpenPart(s.upload_id));
    CLOISTER_ASSIGN_OR_RETURN(uint64_t on_disk, part.Size());
    // Streams truncate to `received` when they open and never write past
    // the size, so any other length means the part file was tampered with.
    if (on_disk != s.size)
      return DataLoss("the upload's part file is " + std::to_string(on_disk) +
                          " bytes, not the " + std::to_string(s.size) + " received",
                      reason::kUploadDataLost);
    std::optional<UploadHash> hash = TakeHash(s.upload_id);
    if (!hash || hash->hashed != s.size) {
      CLOISTER_ASSIGN_OR_RETURN(UploadHash h, HashPrefix(part, s.size));
      hash.emplace(std::move(h));
    }
    digest = FinalDigest(*hash);
    PutHash(s.upload_id, *std::move(hash));  // a retry need not rehash
    if (!ConstantTimeEqual(digest, AsBytes(sha256)))
      return InvalidArgument("the SHA-256 of the received bytes is not the client's",
                             reason::kSha256Mismatch);
    std::array<uint8_t, files::kHeaderSize> head{};
    CLOISTER_ASSIGN_OR_RETURN(size_t got, part.ReadAt(0, head));
    CLOISTER_ASSIGN_OR_RETURN(header, files::FileHeader::Decode(ByteView(head.data(), got)));
  }
  if (HexEncode(header.file_id) != s.file_id)
    return InvalidArgument("the file header names file " + HexEncode(header.file_id) +
                               ", not this session's " + s.file_id,
                           reason::kHeaderMismatch);
  if (header.encrypted_size() != s.size)
    return InvalidArgument("the file header describes a " +
                               std::to_string(header.encrypted_size()) +
                               "-byte file, the upload has " + std::to_string(s.size),
                           reason::kHeaderMismatch);
  FileRow f;
  f.file_id = s.file_id;
  f.owner = s.owner;
  f.size = s.size;
  f.plaintext_size = header.plaintext_length;
  f.chunk_size = header.chunk_size;
  f.chunk_count = header.chunk_count();
  f.sha256 = crypto::DigestBytes(digest);
  f.created_unix = clock_();
  {
    // Rename, then commit: the row never names a missing blob. A crash in
    // between leaves a blob without a row, which CollectOrphans moves back
    // to the part file (the session is still there) at the next start.
    std::lock_guard lock(namespace_mu_);
    CLOISTER_RETURN_IF_ERROR(blobs_->Finalize(s.upload_id, s.file_id));
    auto done = catalog_->CompleteSession(s, std::move(f));
    if (!done.ok()) {
      if (Status st = blobs_->Unfinalize(s.file_id, s.upload_id); !st.ok())
        LOG_ERROR("storage: cannot move a blob back to its part file",
                  {{"error", st.ToString()}});
      return done.error();
    }
    f = *std::move(done);
  }
  ForgetHash(s.upload_id);
  return f;
}

Result<filestore::AbortUploadResponse> StorageCore::AbortUpload(
    const Caller& c, const filestore::AbortUploadRequest& r) {
  return Call<filestore::AbortUploadResponse>(c, "AbortUpload", true, [&](Trace& t)
                                                  -> Result<filestore::AbortUploadResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_RETURN_IF_ERROR(CheckUploadId(r.upload_id()));
    CLOISTER_ASSIGN_OR_RETURN(SessionClaim claim, Claim(r.upload_id()));
    CLOISTER_ASSIGN_OR_RETURN(SessionRow s, OwnSession(c.user_id(), r.upload_id()));
    t.file_id = s.file_id;
    CLOISTER_ASSIGN_OR_RETURN(bool existed, DropSession(s));
    if (!existed) return UploadNotFound();
    return filestore::AbortUploadResponse();
  });
}

// ---- files ----

Result<filestore::StatFileResponse> StorageCore::StatFile(const Caller& c,
                                                         const filestore::StatFileRequest& r) {
  return Call<filestore::StatFileResponse>(c, "StatFile", false, [&](Trace&)
                                               -> Result<filestore::StatFileResponse> {
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, Authorize(c, r.file_id(), Access::kStat));
    filestore::StatFileResponse resp;
    *resp.mutable_file() = ToFileInfo(f);
    return resp;
  });
}

Result<FileRow> StorageCore::OwnedFile(std::string_view file_id, std::string_view owner) {
  CLOISTER_RETURN_IF_ERROR(CheckFileId(file_id));
  CLOISTER_ASSIGN_OR_RETURN(auto f, catalog_->GetFile(file_id));
  if (!f || owner.empty() || f->owner != owner) return FileNotFound();
  return *std::move(f);
}

Result<filestore::StatFileForTaskResponse> StorageCore::StatFileForTask(
    const Caller& c, const filestore::StatFileForTaskRequest& r) {
  return Call<filestore::StatFileForTaskResponse>(c, "StatFileForTask", false, [&](Trace&)
                                                      -> Result<filestore::StatFileForTaskResponse> {
    // The method table lets only the tasks enclave call this; the core
    // checks the proven caller too (a user named "service:tasks" is a user).
    if (!c.is_service() || c.user_id() != "service:tasks")
      return PermissionDenied("only cloister-tasks may look files up for a task",
                              reason::kTasksOnly);
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, OwnedFile(r.file_id(), r.owner_user_id()));
    filestore::StatFileForTaskResponse resp;
    *resp.mutable_file() = ToFileInfo(f);
    return resp;
  });
}

Result<filestore::ListFilesResponse> StorageCore::ListFiles(const Caller& c,
                                                           const filestore::ListFilesRequest& r) {
  return Call<filestore::ListFilesResponse>(c, "ListFiles", false, [&](Trace&)
                                                -> Result<filestore::ListFilesResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    CLOISTER_ASSIGN_OR_RETURN(int64_t before, DecodePageToken(r.page_token()));
    const uint32_t page = r.page_size() == 0 ? kDefaultPageSize
                                             : std::min(r.page_size(), kMaxPageSize);
    // One more than the page: whether a next page exists.
    CLOISTER_ASSIGN_OR_RETURN(auto rows, catalog_->ListFiles(c.user_id(), before, page + 1));
    filestore::ListFilesResponse resp;
    const bool more = rows.size() > page;
    if (more) rows.resize(page);
    for (const FileRow& f : rows) *resp.add_files() = ToFileInfo(f);
    if (more) resp.set_next_page_token(EncodePageToken(rows.back().seq));
    return resp;
  });
}

Result<std::unique_ptr<DownloadReader>> StorageCore::OpenDownload(const Caller& c,
                                                                  std::string_view file_id,
                                                                  uint64_t offset) {
  return Call<std::unique_ptr<DownloadReader>>(c, "Download", false, [&](Trace&)
                                                   -> Result<std::unique_ptr<DownloadReader>> {
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, Authorize(c, file_id, Access::kRead));
    return OpenReader(std::move(f), offset);
  });
}

Result<std::unique_ptr<DownloadReader>> StorageCore::OpenReader(FileRow f, uint64_t offset) {
  // After the access check, so an offset never tells anything about
  // someone else's file.
  if (offset > f.size)
    return OutOfRange("offset " + std::to_string(offset) + " is past the file's " +
                          std::to_string(f.size) + " bytes",
                      reason::kOffsetOutOfRange);
  auto blob = blobs_->OpenBlob(f.file_id);
  if (!blob.ok()) {
    LOG_ERROR("storage: a stored file has no blob", {{"error", blob.error().ToString()}});
    return DataLoss("the file's ciphertext is missing", reason::kBlobCorrupt);
  }
  CLOISTER_ASSIGN_OR_RETURN(uint64_t on_disk, blob->Size());
  if (on_disk != f.size)
    return DataLoss("the file's ciphertext has the wrong size", reason::kBlobCorrupt);
  return std::make_unique<DownloadReader>(DownloadReader::Key(), this, std::move(f),
                                          *std::move(blob), offset);
}

}  // namespace cloister::storage_service
