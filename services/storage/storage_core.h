// StorageCore: cloister-storage's logic without gRPC (upload sessions,
// streams, completion, access, deletion, collection, counters, audit). The
// gRPC face (storage_service.h) admits a call and hands the core its
// proven Caller; tests drive the core directly.
//
//   auto core = *StorageCore::Open(data_dir, "sqlite:///d/storage.db", shredder, audit);
//   auto session = *core->CreateUpload(alice, create_req);
//   auto stream = *core->OpenUploadStream(alice, first_msg);   // appends first_msg
//   CLOISTER_RETURN_IF_ERROR(stream->Append(next_msg));
//   auto s = *stream->Finish();                                 // durable offset
//   auto file = *core->CompleteUpload(alice, complete_req);
//
// Tasks (issue 13, storage_tasks.cc): the attested execution enclave reads a
// task's inputs and stores its outputs under a task grant cloister-tasks
// signed (services/common/task_grant.h), which the core verifies itself:
//
//   auto reader = *core->OpenTaskRead(exec, read_req, task_grants);
//   auto out = *core->OpenTaskOutput(exec, first_msg, task_grants);  // a session for the owner
//   CLOISTER_RETURN_IF_ERROR(out->Append(next_msg));
//   auto file = *out->Finish();                                      // completed, or nothing
//
// The service stores ciphertext of the Cloister file format and never
// decrypts it: it checks only the size, the SHA-256 and the 40-byte header.
// A file becomes visible (Stat, List, Download) only when CompleteUpload
// commits its row, after its blob was renamed into place; a half-uploaded
// file is never visible. Absent and not-yours are the same error for both
// files (FILE_NOT_FOUND) and sessions (UPLOAD_NOT_FOUND).
// Thread-safe. Codes and reasons: storage_reasons.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/crypto/hash.h"
#include "files/file_format.h"
#include "proto/internal.pb.h"
#include "proto/storage.pb.h"
#include "services/common/audit_log.h"
#include "services/common/caller.h"
#include "services/common/task_grant.h"
#include "services/storage/blob_store.h"
#include "services/storage/file_catalog.h"
#include "services/storage/storage_reasons.h"

namespace cloister::storage_service {

using Caller = services::Caller;

// Destroys the key of file `file_id` of `owner` in cloister-keyvault
// (keyvault_link.h in production). Idempotent; an error leaves the file.
using KeyShredder = std::function<Status(const std::string& file_id, const std::string& owner)>;

// The smallest Cloister file: a 40-byte header and one (empty) chunk's tag.
inline constexpr uint64_t kMinFileSize = files::kHeaderSize + files::kTagSize;
inline constexpr uint32_t kMaxMessageBytes = 4u << 20;     // one UploadChunks `data`
inline constexpr uint64_t kDurableEveryBytes = 8u << 20;   // fsync + DB offset this often
inline constexpr size_t kDownloadPieceBytes = 1u << 20;    // one DownloadResponse `data`
inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;
// How the grant verifier names the attested execution enclave calling for
// itself (a service Caller; a user with this id is still a user).
inline constexpr std::string_view kExecPrincipal = "service:exec";

struct StorageOptions {
  uint64_t quota_bytes = uint64_t{10} << 30;  // per owner: files + open sessions
  uint64_t quota_files = 10000;
  int64_t upload_ttl_s = 86400;               // a session is collected after this
  uint32_t max_message_bytes = kMaxMessageBytes;
  uint64_t durable_every_bytes = kDurableEveryBytes;
};

// What a caller wants to do with a stored file (StorageCore::Authorize).
enum class Access {
  kRead,    // download: the owner only; or the execution enclave under a
            // verified task grant naming the file, its owner and its SHA-256
  kStat,    // metadata: the owner or an admin
  kDelete,  // the owner or an admin
};

class StorageCore;

// Exclusive claim on one upload session: a stream, a completion, an abort
// or a collection holds it, so they never interleave. Released on destruction.
class SessionClaim {
 public:
  SessionClaim(SessionClaim&& o) noexcept;
  SessionClaim& operator=(SessionClaim&&) = delete;
  ~SessionClaim();

 private:
  friend class StorageCore;
  SessionClaim(StorageCore* core, std::string upload_id)
      : core_(core), upload_id_(std::move(upload_id)) {}
  StorageCore* core_;  // not owned; null after a move
  std::string upload_id_;
};

// The running SHA-256 of a session's received bytes, kept in memory between
// streams so a resumed upload is not rehashed (only a new process rehashes).
struct UploadHash {
  crypto::Sha256Hasher hasher;
  uint64_t hashed = 0;
  std::optional<crypto::Digest> digest;  // set once the hasher was finished
};

// One UploadChunks stream. Each Append is one message; the data is made
// durable (fsync, then `received` in the catalog) every
// durable_every_bytes and when the stream ends: by Finish, or by
// destruction after an error or a cancelled call, so a broken connection
// resumes from everything that was received. Not thread-safe (one gRPC
// call drives it); the core must outlive it.
class UploadStream {
 public:
  class Key {
    friend class StorageCore;
    Key() = default;
  };
  UploadStream(Key, StorageCore* core, SessionClaim claim, SessionRow session,
               posix::PosixFile part, UploadHash hash);
  UploadStream(const UploadStream&) = delete;
  UploadStream& operator=(const UploadStream&) = delete;
  ~UploadStream();

  // InvalidArgument [UPLOAD_ID_MISMATCH] (another session's id),
  // [EMPTY_CHUNK], [MESSAGE_TOO_LARGE], [UPLOAD_OFFSET_MISMATCH] (the
  // message says which offset was expected), [UPLOAD_BEYOND_SIZE];
  // FailedPrecondition [UPLOAD_STREAM_CLOSED] after an error or Finish.
  Status Append(const filestore::UploadChunksRequest& m);
  // Makes everything durable and ends the stream; the session as stored.
  Result<filestore::UploadSession> Finish();
  // The next offset this stream expects.
  uint64_t offset() const { return offset_; }

 private:
  Status AppendChecked(const filestore::UploadChunksRequest& m);
  Status MakeDurable();
  void Close();

  StorageCore* core_;  // not owned
  SessionClaim claim_;
  SessionRow session_;
  posix::PosixFile part_;
  UploadHash hash_;
  uint64_t offset_;   // bytes written
  uint64_t durable_;  // bytes fsynced and recorded in the catalog
  bool failed_ = false;
  bool closed_ = false;
};

// One Download: pieces of ≤ 1 MiB from the requested offset. It holds the
// blob open, so a file deleted meanwhile still reads to the end (its key is
// already gone). Not thread-safe; the core must outlive it.
class DownloadReader {
 public:
  class Key {
    friend class StorageCore;
    Key() = default;
  };
  DownloadReader(Key, StorageCore* core, FileRow file, posix::PosixFile blob, uint64_t offset);

  // The next message, or nullopt after the last. The first carries `file`
  // (and no data when the offset is the file's size). DataLoss
  // [BLOB_CORRUPT] if the blob is shorter than its row says.
  Result<std::optional<filestore::DownloadResponse>> Next();

 private:
  StorageCore* core_;  // not owned
  FileRow file_;
  posix::PosixFile blob_;
  uint64_t offset_;
  bool first_ = true;
};

// One StoreTaskOutput stream: the execution enclave stores a task output for
// one of its owners through an upload session the core opened for that
// owner (StorageCore::OpenTaskOutput), so the quota, the stream rules and
// CompleteUpload's checks are the upload path's own. The file becomes
// visible only when Finish completes the session; a stream that fails, ends
// early or is dropped before Finish aborts the session (no file, the
// reservation freed). Audited once, when it ends. Not thread-safe (one gRPC
// call drives it); the core must outlive it.
class TaskOutputStream {
 public:
  class Key {
    friend class StorageCore;
    Key() = default;
  };
  TaskOutputStream(Key, StorageCore* core, Caller caller, std::string task_id,
                   SessionRow session, std::string sha256, std::unique_ptr<UploadStream> upload);
  TaskOutputStream(const TaskOutputStream&) = delete;
  TaskOutputStream& operator=(const TaskOutputStream&) = delete;
  ~TaskOutputStream();

  // One later message: `data` only (InvalidArgument
  // [TASK_OUTPUT_HEADER_REPEATED] if it sets a first-message field), ≤ 4 MiB
  // ([MESSAGE_TOO_LARGE]), then UploadStream::Append's rules.
  Status Append(const filestore::StoreTaskOutputRequest& m);
  // Completes the session as CompleteUpload does: FailedPrecondition
  // [UPLOAD_INCOMPLETE] if fewer than `size` bytes came, [SHA256_MISMATCH],
  // [FILE_HEADER_MISMATCH], the format's reasons, [FILE_EXISTS].
  Result<filestore::StoreTaskOutputResponse> Finish();

 private:
  friend class StorageCore;
  Status AppendData(std::string_view data);
  // Records the stream's first failure (what its audit entry says).
  Status Fail(Status st);
  void Abort();

  StorageCore* core_;  // not owned
  Caller caller_;
  std::string task_id_;
  SessionRow session_;
  std::string sha256_;
  std::unique_ptr<UploadStream> upload_;  // null once finished
  Status failure_;
  bool done_ = false;  // completed or aborted, and audited
};

struct OrphanReport {
  size_t parts_removed = 0;   // part files without a session
  size_t blobs_removed = 0;   // blobs without a file row
  size_t blobs_restored = 0;  // a crash between rename and commit: back to the part
};

class StorageCore {
 public:
  // Opens the catalog at `db_url` and the blob store under `data_dir`.
  // `audit` may be null (unit tests); `clock` returns unix seconds.
  static Result<std::unique_ptr<StorageCore>> Open(const std::string& data_dir,
                                                   std::string_view db_url, KeyShredder shredder,
                                                   services::AuditLog* audit,
                                                   StorageOptions options = {},
                                                   std::function<int64_t()> clock = {});
  StorageCore(std::unique_ptr<FileCatalog> catalog, std::unique_ptr<BlobStore> blobs,
              KeyShredder shredder, services::AuditLog* audit, StorageOptions options,
              std::function<int64_t()> clock);

  // InvalidArgument [FILE_ID_INVALID] [FILE_SIZE_INVALID] [DESCRIPTION_TOO_LONG]
  // [LABELS_INVALID]; AlreadyExists [FILE_EXISTS]; ResourceExhausted
  // [QUOTA_BYTES_EXCEEDED] [QUOTA_FILES_EXCEEDED]. Audited.
  Result<filestore::CreateUploadResponse> CreateUpload(const Caller& c,
                                                       const filestore::CreateUploadRequest& r);
  // The owner only: NotFound [UPLOAD_NOT_FOUND] otherwise (and once expired).
  Result<filestore::GetUploadResponse> GetUpload(const Caller& c,
                                                 const filestore::GetUploadRequest& r);
  // Opens the session `first` names (owner only), truncates its part file
  // to the durable offset (bytes past it were never acknowledged) and
  // appends `first`. Aborted [UPLOAD_BUSY] while another stream, a
  // completion or an abort holds the session; Append's errors.
  Result<std::unique_ptr<UploadStream>> OpenUploadStream(const Caller& c,
                                                         const filestore::UploadChunksRequest& first);
  // FailedPrecondition [UPLOAD_INCOMPLETE]; InvalidArgument [SHA256_INVALID]
  // [SHA256_MISMATCH] [FILE_HEADER_MISMATCH] or the format's own reason
  // (files::reason); Aborted [UPLOAD_BUSY]. Audited.
  Result<filestore::CompleteUploadResponse> CompleteUpload(
      const Caller& c, const filestore::CompleteUploadRequest& r);
  // Frees the reservation and the part file. The file key (if the client
  // registered one) stays the client's to delete: it may retry the same
  // file. Audited.
  Result<filestore::AbortUploadResponse> AbortUpload(const Caller& c,
                                                     const filestore::AbortUploadRequest& r);
  Result<filestore::StatFileResponse> StatFile(const Caller& c,
                                               const filestore::StatFileRequest& r);
  // Internal, for cloister-tasks only (the service Caller "service:tasks",
  // which only the grant verifier builds): the file if its owner is
  // `owner_user_id`, the user tasks proved is assigning it to a task.
  // PermissionDenied [TASKS_SERVICE_ONLY] for any other caller; NotFound
  // [FILE_NOT_FOUND] when absent or another user's (OwnedFile).
  Result<filestore::StatFileForTaskResponse> StatFileForTask(
      const Caller& c, const filestore::StatFileForTaskRequest& r);
  // The owner-bound lookup StatFileForTask answers with once its caller
  // passed: InvalidArgument [FILE_ID_INVALID]; NotFound [FILE_NOT_FOUND]
  // (the same words) when absent or not `owner`'s.
  Result<FileRow> OwnedFile(std::string_view file_id, std::string_view owner);
  // The caller's own files, newest first (admins too). InvalidArgument
  // [PAGE_TOKEN_INVALID].
  Result<filestore::ListFilesResponse> ListFiles(const Caller& c,
                                                 const filestore::ListFilesRequest& r);
  // Shreds the key, then the row, then the blob (see the .cc). Audited.
  Result<filestore::DeleteFileResponse> DeleteFile(const Caller& c,
                                                   const filestore::DeleteFileRequest& r);
  // OutOfRange [DOWNLOAD_OFFSET_OUT_OF_RANGE] if offset > size.
  Result<std::unique_ptr<DownloadReader>> OpenDownload(const Caller& c, std::string_view file_id,
                                                       uint64_t offset);

  // ---- tasks (storage_tasks.cc): the execution enclave only ----
  // Both refuse any caller but the service Caller "service:exec" (which
  // only the grant verifier builds, for the attested exec enclave):
  // PermissionDenied [EXEC_SERVICE_ONLY]; then verify `task_grant` with
  // `grants` for that peer role: PermissionDenied with its
  // services::task_grant_reason. Audited (file id and task id).
  //
  // ReadFileForTask: a reader like OpenDownload's, if Authorize lets the
  // grant read the file; NotFound [FILE_NOT_FOUND] (the words of an absent
  // file) when it does not.
  Result<std::unique_ptr<DownloadReader>> OpenTaskRead(const Caller& c,
                                                       const filestore::ReadFileForTaskRequest& r,
                                                       services::TaskGrantVerifier& grants);
  // StoreTaskOutput's first message: the grant must give output `slot` to
  // `owner_user_id` (PermissionDenied [TASK_GRANT_NOT_NAMED]); then
  // CreateUpload's checks and quota for that owner ([FILE_ID_INVALID]
  // [FILE_SIZE_INVALID] [DESCRIPTION_TOO_LONG] [FILE_EXISTS]
  // [QUOTA_*_EXCEEDED]), [SHA256_INVALID], ≤ 4 MiB of data
  // [MESSAGE_TOO_LARGE]; the first message's data is appended.
  Result<std::unique_ptr<TaskOutputStream>> OpenTaskOutput(
      const Caller& c, const filestore::StoreTaskOutputRequest& first,
      services::TaskGrantVerifier& grants);

  // The one access decision on stored files. NotFound [FILE_NOT_FOUND],
  // with the same message, whether the file is absent or not the caller's.
  // `task` is a grant the execution enclave presented, as
  // TaskGrantVerifier::Verify returned it (never one parsed from a request):
  // with it, service:exec may read (kRead only) a file the grant names as
  // an input of the file's owner whose stored SHA-256 is the grant's (a file
  // replaced or changed since the task was approved is not readable).
  Result<FileRow> Authorize(const Caller& c, std::string_view file_id, Access access,
                            const internal::TaskGrant* task = nullptr);

  // Collects sessions expired at `now` (not held by a stream): shreds the
  // key the uploader registered, then deletes the row and the part file.
  // Returns how many were collected; a shredder failure leaves that
  // session for the next round.
  Result<size_t> CollectExpired(int64_t now);
  // Removes part files without a session and blobs without a file row (or
  // restores a blob whose session still waits for it: a crash between
  // CompleteUpload's rename and commit). Run at start.
  Result<OrphanReport> CollectOrphans();

  // StorageHealthResponse.counters.
  std::map<std::string, uint64_t> Counters() const;
  // A call refused before it reached the core (the service's grant check).
  void CountRefusal() { refusals_++; }

 private:
  friend class SessionClaim;
  friend class UploadStream;
  friend class DownloadReader;
  friend class TaskOutputStream;

  // What a call touched, for its audit entry.
  struct Trace {
    std::string file_id;
    std::string task_id;  // from a verified task grant only
  };
  template <typename T, typename Fn>
  Result<T> Call(const Caller& c, std::string_view op, bool audited, Fn fn);
  Status Audit(std::string_view principal, std::string_view op, const Status& outcome,
               std::string_view request_id, std::string_view file_id,
               std::string_view task_id = {});
  Status CheckUser(const Caller& c) const;
  // PermissionDenied [EXEC_SERVICE_ONLY] unless `c` is service:exec.
  Status CheckExec(const Caller& c) const;
  Result<SessionClaim> Claim(const std::string& upload_id);
  void Release(const std::string& upload_id);
  // `owner`'s live session, or NotFound [UPLOAD_NOT_FOUND].
  Result<SessionRow> OwnSession(std::string_view owner, const std::string& upload_id);

  // The upload path's steps for an owner the caller check already settled
  // (a user for itself; the execution enclave for a task output's owner),
  // so task outputs are stored by the same code as uploads.
  Result<SessionRow> NewSession(std::string_view owner, const filestore::CreateUploadRequest& r,
                                Trace& t);
  // Claims `upload_id` (owner's), truncates its part file to the durable
  // offset and returns a stream at that offset (nothing appended yet).
  Result<std::unique_ptr<UploadStream>> OpenSessionStream(std::string_view owner,
                                                          const std::string& upload_id);
  Result<FileRow> CompleteSession(std::string_view owner, const std::string& upload_id,
                                  std::string_view sha256, Trace& t);
  // Deletes the session row, its hash and its part file (frees the
  // reservation); false if it was already gone.
  Result<bool> DropSession(const SessionRow& s);
  // A reader of `f` from `offset` (checked against its size), once access
  // was decided.
  Result<std::unique_ptr<DownloadReader>> OpenReader(FileRow f, uint64_t offset);
  std::optional<UploadHash> TakeHash(const std::string& upload_id);
  void PutHash(const std::string& upload_id, UploadHash h);
  void ForgetHash(const std::string& upload_id);
  filestore::UploadSession ToProto(const SessionRow& s) const;

  std::unique_ptr<FileCatalog> catalog_;
  std::unique_ptr<BlobStore> blobs_;
  KeyShredder shredder_;
  services::AuditLog* audit_;
  StorageOptions options_;
  std::function<int64_t()> clock_;

  std::mutex mu_;
  std::set<std::string, std::less<>> claimed_;               // guarded by mu_
  std::map<std::string, UploadHash, std::less<>> hashes_;    // guarded by mu_
  // Held across "rename into place + commit the row" and "delete the row +
  // unlink the blob", so a file id's blob path is never renamed over and
  // unlinked at once, and the orphan sweep never sees the half state.
  std::mutex namespace_mu_;

  std::atomic<uint64_t> uploads_started_{0}, uploads_completed_{0}, uploads_collected_{0},
      bytes_received_{0}, bytes_sent_{0}, files_deleted_{0}, refusals_{0}, reads_for_tasks_{0},
      outputs_stored_{0};
};

// Runs one call's body (storage_core.cc, storage_collect.cc,
// storage_tasks.cc): counts a refusal, and audits the outcome when
// `audited`, and every refusal, reads included: a probe for another's file
// ids leaves a trace here, not only in the gateway's log. Successful reads
// are not audited here (the gateway's entry has them).
template <typename T, typename Fn>
Result<T> StorageCore::Call(const Caller& c, std::string_view op, bool audited, Fn fn) {
  Trace t;
  Result<T> r = fn(t);
  if (!r.ok()) refusals_++;
  if (audited || !r.ok())
    CLOISTER_RETURN_IF_ERROR(Audit(c.user_id().empty() ? "unknown" : c.user_id(), op, r.status(),
                                   c.request_id(), t.file_id, t.task_id));
  return r;
}

// FileInfo of a stored file (metadata only: never a key or plaintext).
filestore::FileInfo ToFileInfo(const FileRow& f);

}  // namespace cloister::storage_service
