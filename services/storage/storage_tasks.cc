// cloister-storage for tasks (issue 13): the execution enclave reads a
// task's inputs (ReadFileForTask) and stores its outputs (StoreTaskOutput)
// under a task grant signed by cloister-tasks; see storage_core.h. The
// access decision is Authorize's; an output is stored through an upload
// session of its owner, by the upload path's own code.
#include <utility>

#include "common/logging.h"
#include "services/storage/request_checks.h"
#include "services/storage/storage_core.h"

namespace cloister::storage_service {
namespace {

constexpr std::string_view kServicePrefix = "service:";

// The attested role of a service caller: the grant verifier names an
// internal caller "service:<role>" only after checking (from level 2) that
// the role is its attested peer's.
std::string_view PeerRole(const Caller& c) {
  std::string_view id = c.user_id();
  if (id.substr(0, kServicePrefix.size()) == kServicePrefix) id.remove_prefix(kServicePrefix.size());
  return id;
}

Status CheckTaskData(std::string_view data) {
  if (data.size() > kMaxMessageBytes)
    return InvalidArgument("StoreTaskOutputRequest.data carries " + std::to_string(data.size()) +
                               " bytes; the limit is " + std::to_string(kMaxMessageBytes),
                           reason::kMessageTooLarge);
  return OkStatus();
}

// Whether a later message sets a field only the first may carry.
bool SetsHeaderField(const filestore::StoreTaskOutputRequest& m) {
  return !m.task_grant().empty() || !m.slot().empty() || !m.owner_user_id().empty() ||
         !m.file_id().empty() || m.size() != 0 || !m.sha256().empty() || !m.description().empty();
}

filestore::UploadChunksRequest Chunk(const SessionRow& s, uint64_t offset, std::string data) {
  filestore::UploadChunksRequest m;
  m.set_upload_id(s.upload_id);
  m.set_offset(offset);
  m.set_data(std::move(data));
  return m;
}

}  // namespace

// ---- ReadFileForTask ----

Result<std::unique_ptr<DownloadReader>> StorageCore::OpenTaskRead(
    const Caller& c, const filestore::ReadFileForTaskRequest& r,
    services::TaskGrantVerifier& grants) {
  return Call<std::unique_ptr<DownloadReader>>(c, "ReadFileForTask", true, [&](Trace& t)
                                                   -> Result<std::unique_ptr<DownloadReader>> {
    CLOISTER_RETURN_IF_ERROR(CheckExec(c));
    CLOISTER_RETURN_IF_ERROR(CheckFileId(r.file_id()));
    t.file_id = r.file_id();
    CLOISTER_ASSIGN_OR_RETURN(internal::TaskGrant grant, grants.Verify(r.task_grant(), PeerRole(c)));
    t.task_id = grant.task_id();
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, Authorize(c, r.file_id(), Access::kRead, &grant));
    CLOISTER_ASSIGN_OR_RETURN(auto reader, OpenReader(std::move(f), r.offset()));
    reads_for_tasks_++;
    return reader;
  });
}

// ---- StoreTaskOutput ----

Result<std::unique_ptr<TaskOutputStream>> StorageCore::OpenTaskOutput(
    const Caller& c, const filestore::StoreTaskOutputRequest& first,
    services::TaskGrantVerifier& grants) {
  Trace t;
  std::unique_ptr<TaskOutputStream> out;
  Status opened = [&]() -> Status {
    CLOISTER_RETURN_IF_ERROR(CheckExec(c));
    CLOISTER_RETURN_IF_ERROR(CheckTaskData(first.data()));
    CLOISTER_ASSIGN_OR_RETURN(internal::TaskGrant grant,
                              grants.Verify(first.task_grant(), PeerRole(c)));
    t.task_id = grant.task_id();
    if (first.owner_user_id().empty() ||
        !services::GrantsOutput(grant, first.slot(), first.owner_user_id()))
      return PermissionDenied("task grant: output '" + first.slot().substr(0, 64) +
                                  "' of this task is not granted to '" +
                                  first.owner_user_id().substr(0, 64) + "'",
                              services::task_grant_reason::kNotNamed);
    // Before any byte is received: a stream whose completion must fail is
    // refused now.
    CLOISTER_RETURN_IF_ERROR(CheckFileId(first.file_id()));
    t.file_id = first.file_id();
    if (first.sha256().size() != crypto::kSha256Size)
      return InvalidArgument("sha256 must be 32 bytes", reason::kSha256Invalid);
    filestore::CreateUploadRequest create;
    create.set_file_id(first.file_id());
    create.set_size(first.size());
    create.set_description(first.description());
    // The owner's quota, FILE_EXISTS, the size and description rules.
    CLOISTER_ASSIGN_OR_RETURN(SessionRow s, NewSession(first.owner_user_id(), create, t));
    auto upload = OpenSessionStream(s.owner, s.upload_id);
    if (!upload.ok()) {
      DropSession(s).status().IgnoreError();
      return upload.error();
    }
    out = std::make_unique<TaskOutputStream>(TaskOutputStream::Key(), this, c, grant.task_id(),
                                             std::move(s), first.sha256(), *std::move(upload));
    return first.data().empty() ? OkStatus() : out->AppendData(first.data());
  }();
  if (!opened.ok()) {
    // Once the stream exists, dropping it aborts the session and audits the
    // failure (once); before, the refusal is audited here.
    if (out == nullptr) {
      refusals_++;
      CLOISTER_RETURN_IF_ERROR(Audit(c.user_id().empty() ? "unknown" : c.user_id(),
                                     "StoreTaskOutput", opened, c.request_id(), t.file_id,
                                     t.task_id));
    }
    return opened.error();
  }
  return out;
}

TaskOutputStream::TaskOutputStream(Key, StorageCore* core, Caller caller, std::string task_id,
                                   SessionRow session, std::string sha256,
                                   std::unique_ptr<UploadStream> upload)
    : core_(core),
      caller_(std::move(caller)),
      task_id_(std::move(task_id)),
      session_(std::move(session)),
      sha256_(std::move(sha256)),
      upload_(std::move(upload)) {}

TaskOutputStream::~TaskOutputStream() {
  if (done_) return;
  // Dropped before Finish: an error, an early end or a cancelled call.
  if (failure_.ok())
    failure_ = FailedPrecondition("the output stream ended before it was completed",
                                  reason::kUploadIncomplete);
  Abort();
}

Status TaskOutputStream::Append(const filestore::StoreTaskOutputRequest& m) {
  if (done_ || !failure_.ok())
    return FailedPrecondition("this output stream has ended", reason::kStreamClosed);
  if (SetsHeaderField(m)) {
    core_->refusals_++;
    return Fail(InvalidArgument("only the first message of an output stream carries the grant, "
                                "slot, owner, file id, size, sha256 and description",
                                reason::kTaskOutputHeaderRepeated));
  }
  return AppendData(m.data());
}

Status TaskOutputStream::AppendData(std::string_view data) {
  if (Status st = CheckTaskData(data); !st.ok()) {
    core_->refusals_++;
    return Fail(st);
  }
  // UploadStream's rules (it counts its refusals): data present, ≤ the
  // message limit, within the size.
  if (Status st = upload_->Append(Chunk(session_, upload_->offset(), std::string(data))); !st.ok())
    return Fail(st);
  return OkStatus();
}

Result<filestore::StoreTaskOutputResponse> TaskOutputStream::Finish() {
  if (done_ || !failure_.ok())
    return FailedPrecondition("this output stream has ended", reason::kStreamClosed);
  if (auto synced = upload_->Finish(); !synced.ok()) return Fail(synced.status()).error();
  upload_.reset();  // releases the session for the completion's claim
  StorageCore::Trace t;
  auto f = core_->CompleteSession(session_.owner, session_.upload_id, sha256_, t);
  if (!f.ok()) {
    core_->refusals_++;
    return Fail(f.status()).error();
  }
  done_ = true;
  core_->outputs_stored_++;
  CLOISTER_RETURN_IF_ERROR(core_->Audit(caller_.user_id(), "StoreTaskOutput", OkStatus(),
                                        caller_.request_id(), session_.file_id, task_id_));
  filestore::StoreTaskOutputResponse resp;
  *resp.mutable_file() = ToFileInfo(*f);
  return resp;
}

Status TaskOutputStream::Fail(Status st) {
  if (failure_.ok()) failure_ = st;
  return st;
}

void TaskOutputStream::Abort() {
  done_ = true;
  // The stream first (it releases its claim), then the session: no file,
  // and the owner's reservation is free again.
  upload_.reset();
  auto claim = core_->Claim(session_.upload_id);
  if (!claim.ok()) {
    // Cannot happen (nobody else knows this session's id); the collector
    // frees it at its expiry otherwise.
    LOG_WARN("storage: a failed task output's session is busy; left to the collector",
             {{"error", claim.error().ToString()}});
  } else if (auto dropped = core_->DropSession(session_); !dropped.ok()) {
    LOG_WARN("storage: cannot drop a failed task output's session; left to the collector",
             {{"error", dropped.error().ToString()}});
  }
  if (Status st = core_->Audit(caller_.user_id(), "StoreTaskOutput", failure_,
                               caller_.request_id(), session_.file_id, task_id_);
      !st.ok())
    LOG_ERROR("storage: cannot audit a failed task output", {{"error", st.ToString()}});
}

}  // namespace cloister::storage_service
