// TaskIo: everything a task worker asks of its peers, behind one small
// interface (docs/exec.md). Production (MakeGrpcTaskIo) calls
// cloister-tasks (ClaimTask, HeartbeatTask, CompleteTask, FailTask),
// cloister-keyvault (GetFileKeyForTask, RegisterFileKeyForTask) and
// cloister-storage (ReadFileForTask, StoreTaskOutput) over RA-TLS, each call
// with a grant this enclave signs as "service:exec"; the unit tests answer
// from in-memory maps. The task runner (task_runner.h) checks what comes
// back (sizes, hashes, keys): an implementation only moves bytes.
//
//   std::unique_ptr<TaskIo> io = MakeGrpcTaskIo({runner.PeerChannel("tasks"), …}, enclave);
//   CLOISTER_ASSIGN_OR_RETURN(std::optional<tasks::TaskLease> lease, io->Claim("host-7/0", 1s));
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "attestation/enclave.h"
#include "common/result.h"
#include "common/secret.h"
#include "proto/tasks.pb.h"

namespace cloister::exec {

inline constexpr std::string_view kWorkerPrincipal = "service:exec";
// One StoreTaskOutput message's `data` at most (proto/storage.proto).
inline constexpr size_t kStoreMessageBytes = 4u << 20;

// The header of one output file: the first StoreTaskOutput message without
// its data.
struct OutputHeader {
  std::string slot;
  std::string owner_user_id;
  std::string file_id;      // 32 lowercase hex: the format header's file id
  uint64_t size = 0;        // exact ciphertext bytes
  std::string sha256;       // 32 bytes: SHA-256 of the whole ciphertext
  std::string description;  // ≤ 1 KiB
};

// Thread-safe: a lease's heartbeat thread calls Heartbeat while the
// worker thread that runs it calls the rest. Errors are the peer's own
// (code and reason as it answered), or Unavailable/DeadlineExceeded from the
// transport; the runner decides what each means for the task.
class TaskIo {
 public:
  virtual ~TaskIo() = default;

  // ---- cloister-tasks ----
  // The next queued task leased to this worker, or nullopt when none is
  // due within `wait` (a long poll: tasks answers as soon as one is queued).
  virtual Result<std::optional<tasks::TaskLease>> Claim(std::string_view worker_id,
                                                        std::chrono::milliseconds wait) = 0;
  virtual Result<tasks::HeartbeatTaskResponse> Heartbeat(std::string_view task_id,
                                                         uint64_t fencing_token) = 0;
  virtual Status Complete(const tasks::CompleteTaskRequest& req) = 0;
  // The task's state after the failure (FAILED, or QUEUED when retried).
  virtual Result<tasks::TaskState> Fail(const tasks::FailTaskRequest& req) = 0;

  // ---- cloister-keyvault ----
  // The 32-byte key of input file `file_id` owned by `owner` (not checked
  // here: the runner refuses another length).
  virtual Result<SecretBytes> GetInputKey(std::string_view file_id, std::string_view owner,
                                          std::string_view task_grant) = 0;
  // Registers the fresh key of output file `file_id` to `owner` (an owner
  // of output `slot` in the grant).
  virtual Status RegisterOutputKey(std::string_view file_id, std::string_view owner,
                                   std::string_view slot, ByteView file_key,
                                   std::string_view task_grant) = 0;

  // ---- cloister-storage ----
  // The whole stored ciphertext of input `file_id`. ResourceExhausted
  // [INPUT_TOO_LARGE] as soon as it would pass `max_bytes` (nothing more is
  // buffered); Cancelled once `aborted()` says so (asked between messages).
  virtual Result<std::string> ReadInput(std::string_view file_id, std::string_view task_grant,
                                        uint64_t max_bytes,
                                        const std::function<bool()>& aborted) = 0;
  // Stores `ciphertext` as output file `header.file_id` of `header.owner_user_id`
  // in messages of at most kStoreMessageBytes; Cancelled once `aborted()`
  // says so (the file then never becomes visible).
  virtual Status StoreOutput(const OutputHeader& header, std::string_view ciphertext,
                             std::string_view task_grant,
                             const std::function<bool()>& aborted) = 0;
};

struct PeerChannels {
  std::shared_ptr<grpc::Channel> tasks;
  std::shared_ptr<grpc::Channel> storage;
  std::shared_ptr<grpc::Channel> keyvault;
};

// The production TaskIo. `enclave` (which signs each call's grant) must
// outlive it. Unary calls wait at most 10 s (a heartbeat 5 s); a stream at
// most 10 min.
std::unique_ptr<TaskIo> MakeGrpcTaskIo(PeerChannels peers, attestation::Enclave* enclave);

}  // namespace cloister::exec
