// The gRPC TaskIo of cloister-exec; see task_io.h.
#include "services/exec/task_io.h"

#include <algorithm>
#include <chrono>

#include "common/grpc_status.h"
#include "proto/internal.pb.h"
#include "proto/keyvault.grpc.pb.h"
#include "proto/storage.grpc.pb.h"
#include "proto/tasks.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::exec {
namespace {

constexpr std::string_view kClaim = "/cloister.tasks.Tasks/ClaimTask";
constexpr std::string_view kHeartbeat = "/cloister.tasks.Tasks/HeartbeatTask";
constexpr std::string_view kComplete = "/cloister.tasks.Tasks/CompleteTask";
constexpr std::string_view kFail = "/cloister.tasks.Tasks/FailTask";
constexpr std::string_view kGetKey = "/cloister.keyvault.KeyVault/GetFileKeyForTask";
constexpr std::string_view kRegisterKey = "/cloister.keyvault.KeyVault/RegisterFileKeyForTask";
constexpr std::string_view kRead = "/cloister.filestore.Storage/ReadFileForTask";
constexpr std::string_view kStore = "/cloister.filestore.Storage/StoreTaskOutput";

constexpr auto kUnaryTimeout = std::chrono::seconds(10);
// Shorter than any sensible heartbeat interval's slack: a slow tasks must
// not make the next heartbeat late.
constexpr auto kHeartbeatTimeout = std::chrono::seconds(5);
// A 1 GiB input at a modest 10 MB/s is under 2 min; a stuck stream must
// still end, and the lease is lost long before this anyway.
constexpr auto kStreamTimeout = std::chrono::minutes(10);

const char* const kInputTooLarge = "INPUT_TOO_LARGE";
const char* const kStreamInvalid = "INPUT_STREAM_INVALID";

class GrpcTaskIo final : public TaskIo {
 public:
  GrpcTaskIo(PeerChannels peers, attestation::Enclave* enclave)
      : tasks_(tasks::Tasks::NewStub(peers.tasks)),
        storage_(filestore::Storage::NewStub(peers.storage)),
        keyvault_(keyvault::KeyVault::NewStub(peers.keyvault)),
        enclave_(enclave) {}

  Result<std::optional<tasks::TaskLease>> Claim(std::string_view worker_id,
                                                std::chrono::milliseconds wait) override {
    tasks::ClaimTaskRequest req;
    req.set_worker_id(std::string(worker_id));
    req.set_wait_ms(static_cast<uint32_t>(std::clamp<int64_t>(wait.count(), 0, 10'000)));
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "tasks", req, kClaim,
                                     kUnaryTimeout + std::chrono::milliseconds(req.wait_ms())));
    tasks::ClaimTaskResponse resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(tasks_->ClaimTask(&cctx, req, &resp)));
    if (!resp.claimed()) return std::optional<tasks::TaskLease>();
    return std::optional<tasks::TaskLease>(std::move(*resp.mutable_lease()));
  }

  Result<tasks::HeartbeatTaskResponse> Heartbeat(std::string_view task_id,
                                                 uint64_t fencing_token) override {
    tasks::HeartbeatTaskRequest req;
    req.set_task_id(std::string(task_id));
    req.set_fencing_token(fencing_token);
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "tasks", req, kHeartbeat, kHeartbeatTimeout));
    tasks::HeartbeatTaskResponse resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(tasks_->HeartbeatTask(&cctx, req, &resp)));
    return resp;
  }

  Status Complete(const tasks::CompleteTaskRequest& req) override {
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "tasks", req, kComplete, kUnaryTimeout));
    tasks::CompleteTaskResponse resp;
    return FromGrpcStatus(tasks_->CompleteTask(&cctx, req, &resp));
  }

  Result<tasks::TaskState> Fail(const tasks::FailTaskRequest& req) override {
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "tasks", req, kFail, kUnaryTimeout));
    tasks::FailTaskResponse resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(tasks_->FailTask(&cctx, req, &resp)));
    return resp.state();
  }

  Result<SecretBytes> GetInputKey(std::string_view file_id, std::string_view owner,
                                  std::string_view task_grant) override {
    keyvault::GetFileKeyForTaskRequest req;
    req.set_file_id(std::string(file_id));
    req.set_owner_user_id(std::string(owner));
    req.set_task_grant(std::string(task_grant));
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "keyvault", req, kGetKey, kUnaryTimeout));
    keyvault::GetFileKeyResponse resp;
    Status st = FromGrpcStatus(keyvault_->GetFileKeyForTask(&cctx, req, &resp));
    SecretBytes key(AsBytes(resp.file_key()));
    Cleanse(*resp.mutable_file_key());
    if (!st.ok()) return st.error();
    return key;
  }

  Status RegisterOutputKey(std::string_view file_id, std::string_view owner,
                           std::string_view slot, ByteView file_key,
                           std::string_view task_grant) override {
    keyvault::RegisterFileKeyForTaskRequest req;
    req.set_file_id(std::string(file_id));
    req.set_owner_user_id(std::string(owner));
    req.set_file_key(file_key.data(), file_key.size());
    req.set_slot(std::string(slot));
    req.set_task_grant(std::string(task_grant));
    grpc::ClientContext cctx;
    Status st = Prepare(cctx, "keyvault", req, kRegisterKey, kUnaryTimeout);
    keyvault::RegisterFileKeyResponse resp;
    if (st.ok()) st = FromGrpcStatus(keyvault_->RegisterFileKeyForTask(&cctx, req, &resp));
    Cleanse(*req.mutable_file_key());
    return st;
  }

  Result<std::string> ReadInput(std::string_view file_id, std::string_view task_grant,
                                uint64_t max_bytes,
                                const std::function<bool()>& aborted) override {
    filestore::ReadFileForTaskRequest req;
    req.set_file_id(std::string(file_id));
    req.set_offset(0);
    req.set_task_grant(std::string(task_grant));
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "storage", req, kRead, kStreamTimeout));
    auto reader = storage_->ReadFileForTask(&cctx, req);
    std::string out;
    std::optional<uint64_t> size;
    filestore::DownloadResponse piece;
    Status bad = OkStatus();
    while (reader->Read(&piece)) {
      if (aborted()) {
        bad = Cancelled();
        break;
      }
      if (!size) {
        if (!piece.has_file()) {
          bad = DataLoss("storage's first message carries no file", kStreamInvalid);
          break;
        }
        size = piece.file().size();
        if (*size > max_bytes) {
          bad = ResourceExhausted("input file has " + std::to_string(*size) +
                                      " bytes; this task may read " + std::to_string(max_bytes) +
                                      " more",
                                  kInputTooLarge);
          break;
        }
        out.reserve(*size);
      }
      if (piece.offset() != out.size() || piece.data().size() > *size - out.size()) {
        bad = DataLoss("storage sent bytes out of order or past the file's size",
                       kStreamInvalid);
        break;
      }
      out.append(piece.data());
    }
    if (!bad.ok()) {
      cctx.TryCancel();
      (void)reader->Finish();
      return bad.error();
    }
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
    if (!size || out.size() != *size)
      return DataLoss("storage ended the stream after " + std::to_string(out.size()) +
                          " of the file's bytes",
                      kStreamInvalid);
    return out;
  }

  Status StoreOutput(const OutputHeader& header, std::string_view ciphertext,
                     std::string_view task_grant,
                     const std::function<bool()>& aborted) override {
    filestore::StoreTaskOutputRequest first;
    first.set_task_grant(std::string(task_grant));
    first.set_slot(header.slot);
    first.set_owner_user_id(header.owner_user_id);
    first.set_file_id(header.file_id);
    first.set_size(header.size);
    first.set_sha256(header.sha256);
    first.set_description(header.description);
    size_t at = std::min(ciphertext.size(), kStoreMessageBytes);
    first.set_data(std::string(ciphertext.substr(0, at)));
    // The grant covers the first message (as UploadChunks's does): storage
    // admits the stream on it, and the rest is only data in order.
    grpc::ClientContext cctx;
    CLOISTER_RETURN_IF_ERROR(Prepare(cctx, "storage", first, kStore, kStreamTimeout));
    filestore::StoreTaskOutputResponse resp;
    auto writer = storage_->StoreTaskOutput(&cctx, &resp);
    bool ok = writer->Write(first);
    filestore::StoreTaskOutputRequest next;
    while (ok && at < ciphertext.size()) {
      if (aborted()) {
        cctx.TryCancel();
        (void)writer->Finish();
        return Cancelled();
      }
      const size_t n = std::min(ciphertext.size() - at, kStoreMessageBytes);
      next.set_data(std::string(ciphertext.substr(at, n)));
      ok = writer->Write(next);
      at += n;
    }
    // A failed Write means the stream is broken; Finish says why.
    if (ok) writer->WritesDone();
    return FromGrpcStatus(writer->Finish());
  }

 private:
  static Error Cancelled() { return Error(Code::kCancelled, "the worker stopped this run"); }

  Status Prepare(grpc::ClientContext& cctx, std::string_view audience,
                 const google::protobuf::Message& req, std::string_view method,
                 std::chrono::milliseconds timeout) {
    cctx.set_deadline(std::chrono::system_clock::now() + timeout);
    internal::AccessGrant g;
    g.set_principal(std::string(kWorkerPrincipal));
    return services::AttachGrant(cctx, *enclave_, audience, req, method, g);
  }

  std::unique_ptr<tasks::Tasks::Stub> tasks_;
  std::unique_ptr<filestore::Storage::Stub> storage_;
  std::unique_ptr<keyvault::KeyVault::Stub> keyvault_;
  attestation::Enclave* enclave_;
};

}  // namespace

std::unique_ptr<TaskIo> MakeGrpcTaskIo(PeerChannels peers, attestation::Enclave* enclave) {
  return std::make_unique<GrpcTaskIo>(std::move(peers), enclave);
}

}  // namespace cloister::exec
