// Runs one claimed task lease to its end (docs/exec.md): keeps the lease
// alive with heartbeats (renewing the task grant each time), fetches each
// input's ciphertext and checks it against the approved SHA-256 before
// asking for its key and decrypting it, runs the function through the
// runtime interface, encrypts each output once per owner under a fresh key,
// registers the key, stores the file, and reports CompleteTask or FailTask.
// Everything stays in memory; no plaintext is written anywhere, and no
// input or output byte is logged (only ids, attempt, duration, outcome).
//
//   TaskRunner runner(io, RunnerOptions{.forked_lua = level >= 3});
//   TaskResult r = runner.Run(lease, stopping);
//
// A function's failure (bad input data, a Lua limit, a forbidden call)
// fails the task with the runtime's stable reason and retryable = false; a
// peer that is unavailable fails it retryable. A lease that is lost (a
// heartbeat answering LEASE_LOST or TASK_CANCELED, or no renewal for a
// whole lease) stops the run, and its result is dropped without a word to
// cloister-tasks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "files/file_format.h"
#include "functions/lua/limits.h"
#include "functions/runtime.h"
#include "proto/tasks.pb.h"
#include "services/exec/task_io.h"

namespace cloister::exec {

// Stable reasons a worker's FailTask carries besides the runtime's own
// (functions/lua: MEMORY_LIMIT_EXCEEDED, INSTRUCTION_LIMIT_EXCEEDED,
// TIME_LIMIT_EXCEEDED, OUTPUT_LIMIT_EXCEEDED, CALL_DEPTH_EXCEEDED,
// LUA_RUNTIME_ERROR, LUA_SYNTAX_ERROR, SANDBOX_VIOLATION, …; a built-in's
// reason, e.g. CSV_BAD_VALUE) and a peer's (FILE_NOT_FOUND,
// TASK_GRANT_EXPIRED, …; else <PEER>_<CODE>, e.g. STORAGE_UNAVAILABLE).
namespace reason {
inline constexpr const char* kInputIntegrity = "INPUT_INTEGRITY";      // DATA_LOSS
inline constexpr const char* kInputTooLarge = "INPUT_TOO_LARGE";       // RESOURCE_EXHAUSTED
inline constexpr const char* kInputDecrypt = "INPUT_DECRYPT_FAILED";   // DATA_LOSS
inline constexpr const char* kInputKey = "INPUT_KEY_INVALID";          // DATA_LOSS
inline constexpr const char* kBindingInvalid = "BINDING_INVALID";      // args/inputs vs spec
inline constexpr const char* kFunctionError = "FUNCTION_ERROR";        // no reason of its own
inline constexpr const char* kOutputEncrypt = "OUTPUT_ENCRYPT_FAILED"; // INTERNAL
inline constexpr const char* kWorkerStopping = "WORKER_STOPPING";      // retryable
}  // namespace reason

inline constexpr size_t kMaxFailureMessageBytes = 1024;
// A failure message as cloister-tasks accepts it: invalid UTF-8 and control
// bytes (but \n, \t) become '?', cut between characters at
// kMaxFailureMessageBytes.
std::string SanitizeFailureMessage(std::string_view text);

// What FailTask says: a stable reason ([A-Z0-9_]{1,64}), a message for
// people (≤ 1 KiB, never input or output data), and whether another
// attempt may succeed.
struct TaskFailure {
  std::string reason;
  std::string message;
  bool retryable = false;
};

// The limits a failed function ran under, for a message that names them
// without quoting anything the function produced.
struct RunLimits {
  functions::Limits runtime;
  std::optional<functions::lua::LuaLimits> lua;
};

// A function's error as a failure. Only text the worker or the sandbox's
// parent writes reaches the message (limit values, the forbidden system
// call's name, a syntax error's line in the approved source); a function's
// own error text (a Lua error(), a built-in's "line 3: 'x' is not a
// number") may quote input data, so only its reason and code are kept.
// Never retryable except SANDBOX_SETUP_FAILED (this worker could not
// confine the sandbox).
TaskFailure FunctionFailure(const Error& e, const RunLimits& limits);
// A peer's error ("storage", "keyvault", "tasks") as a failure: retryable
// for Unavailable, DeadlineExceeded, Aborted, Cancelled and Unknown (and an
// expired task grant); the peer's reason when it gave a valid one, else
// "<PEER>_<CODE>" (STORAGE_UNAVAILABLE).
TaskFailure PeerFailure(std::string_view peer, const Error& e);

// Decrypts a whole fetched input in memory: the format header must name
// `file_id` (DATA_LOSS [INPUT_INTEGRITY]) and the ciphertext must be exactly
// the file the header describes; a chunk that does not authenticate under
// `key` (a wrong key, a changed byte) is DATA_LOSS [INPUT_DECRYPT_FAILED]
// with the format's reason in the message.
Result<std::string> DecryptInput(ByteView key, std::string_view ciphertext,
                                 std::string_view file_id);
// Encrypts `plaintext` under `key` as a new file with id `file_id`.
Result<std::string> EncryptOutput(ByteView key, const files::FileId& file_id,
                                  std::string_view plaintext, uint32_t chunk_size);

struct RunnerOptions {
  // Lua in the forked seccomp sandbox (the enclave's security level >= 3).
  bool forked_lua = false;
  // All input ciphertext of one task together (--task-max-input-bytes).
  uint64_t max_input_bytes = 1ull << 30;
  functions::lua::LuaLimits lua_caps = functions::lua::ClusterMaxima();
  uint32_t output_chunk_size = files::kDefaultChunkSize;
  // The heartbeat runs every lease/3, but never more often than this.
  std::chrono::milliseconds min_heartbeat_interval{100};
  // Attempts of CompleteTask/FailTask on a transient error, 200 ms apart
  // and doubling, while the lease lasts.
  int report_attempts = 3;
  // A peer (storage, keyvault) that cannot be reached — UNAVAILABLE, as
  // while `cluster up` restarts it — is asked again within the attempt,
  // 100 ms apart and doubling to 2 s, for up to this long while the lease
  // holds: a restart of a peer costs a pause, not one of the task's
  // bounded attempts. 0: no waiting.
  std::chrono::milliseconds peer_wait{30'000};
  // TEST ONLY: see functions/lua/sandbox_options.h. Production never sets it.
  std::function<void()> unsafe_test_syscall_fn;
};

enum class Outcome {
  kSucceeded,      // CompleteTask accepted
  kFailed,         // FailTask accepted: the task failed
  kRequeued,       // FailTask accepted: retryable, the task is queued again
  kLeaseLost,      // a heartbeat lost the lease (or the task was canceled): result dropped
  kRefused,        // tasks refused the completion or failure (LEASE_LOST, TASK_CANCELED)
  kStopped,        // the worker stopped mid-run (reported retryable when possible)
  kUnreported,     // tasks could not be told; the lease will expire and requeue it
};
std::string_view OutcomeName(Outcome o);

struct TaskResult {
  Outcome outcome = Outcome::kUnreported;
  std::string reason;  // the failure's reason, or why the result was dropped
  int64_t duration_ms = 0;
  size_t outputs_stored = 0;
};

class TaskRunner {
 public:
  // `io` must outlive the runner. Thread-safe: each Run is independent.
  TaskRunner(TaskIo* io, RunnerOptions opts) : io_(io), opts_(std::move(opts)) {}

  // Runs `lease` to its end. `stopping` (the pool's shutdown flag) is
  // checked between steps: a function already running finishes first.
  TaskResult Run(const tasks::TaskLease& lease, const std::atomic<bool>& stopping) const;

 private:
  TaskIo* io_;
  RunnerOptions opts_;
};

}  // namespace cloister::exec
