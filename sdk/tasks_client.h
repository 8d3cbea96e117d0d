// The SDK's multi-party task calls (service Tasks in proto/tasks.proto,
// docs/tasks.md): `Functions` registers and looks up immutable function
// versions, `Tasks` creates a task over them, assigns inputs, approves its
// digest, invokes, waits for it and fetches the caller's own outputs
// (ordinary encrypted files, decrypted here through FilesClient). On top of
// an attested, logged-in sdk::Client.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto tasks, sdk::Tasks::Create(client.get(), options));
//   CLOISTER_ASSIGN_OR_RETURN(auto fn, tasks->functions().RegisterBuiltin("psi", {.is_public = true}));
//   CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, tasks->Create(fn.function().hash(), {},
//       {{"set.alice", alice_id}, {"set.bob", bob_id}}, {{"intersection", {alice_id, bob_id}}}));
//   CLOISTER_RETURN_IF_ERROR(tasks->Assign(t.task_id(), "set.alice", file_id).status());
//   CLOISTER_RETURN_IF_ERROR(tasks->Approve(t.task_id(), digest).status());   // the digest reviewed
//   CLOISTER_ASSIGN_OR_RETURN(tasks::Task done, tasks->Wait(t.task_id(), {.timeout = 5min}));
//   CLOISTER_ASSIGN_OR_RETURN(auto outs, tasks->FetchOutputs(t.task_id(), *files, "out/"));
//
// Create() opens its own channel to the gateway with the same attestation
// check as Client::Connect (role "gateway") and forces the handshake before
// any credential is sent; every call carries the Client's token or API key
// (refreshed through the Client when close to expiry). Thread-safe. Errors
// are the server's code and stable reason (e.g. DIGEST_STALE with the
// current digest in the message, TASK_NOT_FOUND, FUNCTION_NOT_FOUND),
// passed through unchanged.
//
// User ids: the service names every user by id ("u-" + 32 hex); ResolveUser()
// maps a username to it through Auth.LookupUsers, open to any signed-in user.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/tasks.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"

namespace cloister::sdk {

// Reasons the tasks client itself produces (the server's pass through).
inline constexpr const char* kTaskWaitTimeout = "TASK_WAIT_TIMEOUT";
inline constexpr const char* kTaskNotSucceeded = "TASK_NOT_SUCCEEDED";
inline constexpr const char* kTaskDigestMismatch = "TASK_DIGEST_MISMATCH";
inline constexpr const char* kOutputSlotInvalid = "OUTPUT_SLOT_INVALID";
inline constexpr const char* kTaskOutputsInconsistent = "TASK_OUTPUTS_INCONSISTENT";
inline constexpr const char* kOutputTooLarge = "OUTPUT_TOO_LARGE";
inline constexpr const char* kUsernameUnresolved = "USERNAME_UNRESOLVED";
inline constexpr const char* kStateFilterInvalid = "STATE_FILTER_INVALID";  // as the server's

// Input slot → its owner's user id; output slot → its owners' user ids.
using InputOwners = std::map<std::string, std::string>;
using OutputOwners = std::map<std::string, std::vector<std::string>>;

// RegisterTaskFunction's choices besides the content.
struct RegisterOptions {
  std::string description;                 // ≤ 4 KiB; a built-in's default: the registry's
  bool is_public = false;                  // usable by every user
  std::vector<std::string> allowed_users;  // user ids (private functions)
  std::string function_id;                 // "": a new function; else a new version of it
};

struct ListFunctionsOptions {
  bool mine_only = false;
  bool include_disabled = false;
};

namespace tasks_internal {
class Connection;  // the channel, the stub and the authorization of every call
}

class Functions {
 public:
  // `client` must be connected, must outlive this object, and must be logged
  // in before the first call. Unavailable [GATEWAY_UNREACHABLE] when no
  // gateway answers; TrustConfig::Load's errors for a bad trust file.
  static Result<std::unique_ptr<Functions>> Create(Client* client, ClientOptions options);

  // A built-in by its registry name ("psi"); the spec is the registry's.
  Result<tasks::RegisterTaskFunctionResponse> RegisterBuiltin(std::string_view name,
                                                              const RegisterOptions& options = {});
  // A Lua 5.4 source (1 B .. 4 MiB, compiled by the service) with its spec.
  Result<tasks::RegisterTaskFunctionResponse> RegisterLua(std::string_view source,
                                                          const tasks::FunctionSpec& spec,
                                                          const RegisterOptions& options = {});
  // One page of the functions the caller may use, newest first.
  Result<tasks::ListTaskFunctionsResponse> List(const ListFunctionsOptions& options = {},
                                                uint32_t page_size = 0,
                                                std::string_view page_token = {});
  // Every page. InvalidArgument [LIST_PAGING_BROKEN] if the server repeats a token.
  Result<std::vector<tasks::FunctionVersion>> ListAll(const ListFunctionsOptions& options = {});
  // By function id (32 hex: its latest version plus every version) or by
  // version hash (64 hex). NOT_FOUND FUNCTION_NOT_FOUND when absent or not
  // usable by the caller.
  Result<tasks::GetTaskFunctionResponse> Get(std::string_view id_or_hash,
                                             bool include_source = false);
  // The owner disables one version (`hash`) or every version (""); returns
  // how many versions were newly disabled.
  Result<uint32_t> Disable(std::string_view function_id, std::string_view hash = {});

  explicit Functions(std::shared_ptr<tasks_internal::Connection> conn);
  ~Functions();

 private:
  std::shared_ptr<tasks_internal::Connection> conn_;
};

// A new task: what CreateTask takes.
struct NewTask {
  std::string function_hash;  // required: the version to run
  std::string function_id;    // only when two usable functions share the hash
  Arguments args;             // typed; the service fills defaults
  InputOwners inputs;
  OutputOwners outputs;
  std::string description;    // ≤ 4 KiB, not in the digest
};

// UpdateTask: only the fields set are changed (every approval is voided).
struct TaskUpdate {
  std::string function_hash;  // "": keep
  std::string function_id;
  std::optional<Arguments> args;        // replaces every argument (defaults refilled)
  std::optional<InputOwners> inputs;    // replaces the input owners
  std::optional<OutputOwners> outputs;  // replaces the output owners
};

struct WaitOptions {
  uint64_t after_version = 0;          // 0: the first answer is the task as it is now
  std::chrono::milliseconds timeout{0};  // overall deadline; 0: none
  std::chrono::milliseconds poll{10'000};  // one WaitTask's long poll (≤ 30 s)
  // Called with the task as first seen and after every change (version
  // moved), on the calling thread.
  std::function<void(const tasks::Task&)> on_change;
  // Backoff after a transient error (UNAVAILABLE, DEADLINE_EXCEEDED,
  // WAITERS_EXHAUSTED, ABORTED), doubling up to 5 s; with no overall
  // deadline, this many transient errors in a row end the wait.
  std::chrono::milliseconds initial_backoff{200};
  int max_consecutive_errors = 10;
};

// One output file the caller can fetch: its slot, its file and the file
// name it gets in a directory (the slot, checked to be a safe name).
struct OutputToFetch {
  std::string slot, file_id, file_name;
};

struct FetchedOutput {
  std::string slot, file_id, path;
  uint64_t bytes = 0;  // plaintext
};

// Called around each output's download, on the calling thread: `begin`
// returns the progress callback for that file (may be null), `end` gets its
// outcome.
struct FetchObserver {
  std::function<ProgressFn(const OutputToFetch&)> begin;
  std::function<void(const OutputToFetch&, const Status&)> end;
};

class Tasks {
 public:
  // As Functions::Create; functions() shares this object's channel.
  static Result<std::unique_ptr<Tasks>> Create(Client* client, ClientOptions options);
  Functions& functions() { return *functions_; }

  Result<tasks::Task> Create(const NewTask& task);
  Result<tasks::Task> Create(std::string_view function_hash, const Arguments& args,
                             const InputOwners& inputs, const OutputOwners& outputs,
                             std::string_view description = {});
  // The creator, before the task is queued.
  Result<tasks::Task> Update(std::string_view task_id, const TaskUpdate& update);
  // The slot's owner assigns one of its own stored files.
  Result<tasks::Task> Assign(std::string_view task_id, std::string_view slot,
                             std::string_view file_id);
  // Approves exactly `digest` (FAILED_PRECONDITION DIGEST_STALE, with the
  // current digest in the message, if the task changed since).
  Result<tasks::Task> Approve(std::string_view task_id, std::string_view digest);
  Result<tasks::Task> Reject(std::string_view task_id, std::string_view reason);
  Result<tasks::Task> Revoke(std::string_view task_id);
  Result<tasks::Task> Invoke(std::string_view task_id);
  Result<tasks::Task> Cancel(std::string_view task_id, std::string_view reason = {});
  Result<tasks::Task> Get(std::string_view task_id);
  // One page of the caller's tasks, newest first (UNSPECIFIED: any state).
  Result<tasks::ListTasksResponse> List(tasks::TaskState state = tasks::TASK_STATE_UNSPECIFIED,
                                        uint32_t page_size = 0, std::string_view page_token = {});
  // Every page, at most `max` tasks (0: no limit).
  Result<std::vector<tasks::Task>> ListAll(tasks::TaskState state = tasks::TASK_STATE_UNSPECIFIED,
                                           size_t max = 0);
  // The task's transitions, oldest first (every page).
  Result<std::vector<tasks::TaskEvent>> Log(std::string_view task_id);

  // Long-polls WaitTask until the task reaches a final state (Succeeded,
  // Failed, Canceled, Rejected), which is returned whatever it is. Past the
  // overall deadline: DeadlineExceeded [TASK_WAIT_TIMEOUT] naming the state
  // and what is missing. The server's refusals (TASK_NOT_FOUND...) end the
  // wait at once; transient errors are retried with backoff.
  Result<tasks::Task> Wait(std::string_view task_id, const WaitOptions& options = {});

  // Downloads and decrypts the caller's own output files of a Succeeded
  // task into `dir` (created 0700 if absent), one file per output slot
  // named by the slot (an existing file of that name is replaced). Failed
  // Precondition [TASK_NOT_SUCCEEDED] before success; FilesClient's errors
  // naming the file otherwise. Outputs downloaded before an error stay.
  Result<std::vector<FetchedOutput>> FetchOutputs(std::string_view task_id, FilesClient& files,
                                                  const std::string& dir,
                                                  const FetchObserver& observer = {});
  // The same into memory (slot → plaintext), at most `max_total_bytes`
  // together (ResourceExhausted [OUTPUT_TOO_LARGE]). FilesClient downloads
  // only to a path, so each file passes through a private temporary
  // directory (0700, removed before returning).
  Result<std::map<std::string, std::string>> FetchOutputsToMemory(
      std::string_view task_id, FilesClient& files, uint64_t max_total_bytes = 256u << 20);

  // A user id for `name_or_id`: a user id ("u-" + 32 hex) as is; the
  // caller's own username from the session; any other through
  // Auth.LookupUsers (cached). NotFound [USER_NOT_FOUND] for an unknown name.
  Result<std::string> ResolveUser(std::string_view name_or_id);
  // The logged-in user's id ("" if the session does not say).
  std::string self_user_id() const;

  explicit Tasks(std::shared_ptr<tasks_internal::Connection> conn);
  ~Tasks();

 private:
  std::shared_ptr<tasks_internal::Connection> conn_;
  std::unique_ptr<Functions> functions_;
  std::mutex users_mu_;
  std::optional<std::map<std::string, std::string>> users_;  // username → id; guarded by users_mu_
};

// ---- pure helpers (no RPC) ----

// "Created", "DataAssigned", "Approved", "Queued", "Running", "Succeeded",
// "Failed", "Canceled", "Rejected" (the service's own words); "Unspecified".
std::string TaskStateName(tasks::TaskState state);
// The inverse, case-insensitive, also "data_assigned", "DATA_ASSIGNED" and
// "TASK_STATE_DATA_ASSIGNED"; "" and "any" are UNSPECIFIED. InvalidArgument
// [STATE_FILTER_INVALID] listing the states otherwise.
Result<tasks::TaskState> ParseTaskState(std::string_view text);
// Succeeded, Failed, Canceled, Rejected.
bool IsFinalTaskState(tasks::TaskState state);
// "builtin", "lua", "unspecified".
std::string FunctionKindName(tasks::FunctionKind kind);
// "string", "int", "double", "bool", "unspecified".
std::string ArgTypeName(tasks::ArgType type);

// 32 / 64 lowercase hex digits (ids / hashes and digests).
bool IsHexId(std::string_view s);
bool IsHexDigest(std::string_view s);
// "u-" + 32 lowercase hex digits: what auth issues as a user id.
bool LooksLikeUserId(std::string_view s);

// The task digest of docs/tasks.md ("Encodings") recomputed from a Task as
// GetTask returns it: lowercase hex SHA-256. InvalidArgument when an
// argument has no value or a double is not finite (the service refuses
// those, so no digest covers them).
Result<std::string> ComputeTaskDigest(const tasks::Task& task);
// OK when the task's `digest` is what its shown content hashes to; else
// DataLoss [TASK_DIGEST_MISMATCH]: approving that digest would approve
// something other than what is shown.
Status VerifyTaskDigest(const tasks::Task& task);

// The caller's output files of a task, one per slot, in slot order: files
// of other owners are skipped (they are not the caller's to decrypt; with
// an empty `caller_user_id` none is, as the service lists only the
// caller's own).
// InvalidArgument [OUTPUT_SLOT_INVALID] for a slot that is not
// <name> or <name>.<party> ([A-Za-z0-9_-]{1,64} each), so a slot can never
// name a path outside the target directory; DataLoss
// [TASK_OUTPUTS_INCONSISTENT] for two files of the caller in one slot or a
// file id that is not 32 hex.
Result<std::vector<OutputToFetch>> PlanOutputFetch(const tasks::Task& task,
                                                   std::string_view caller_user_id);

}  // namespace cloister::sdk
