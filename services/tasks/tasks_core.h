// TasksCore: cloister-tasks' logic without gRPC: the function registry, the
// multi-party task lifecycle (assign, approve the digest, reject, revoke,
// invoke, cancel), the work queue with leases and fencing tokens, the
// participants' event log, and the audit of every transition. The gRPC
// face (tasks_service.h) admits a call and hands the core its proven
// Caller; tests drive the core directly.
//
//   auto core = *TasksCore::Open("sqlite:///d/tasks.db", file_lookup, audit);
//   auto fn = *core->RegisterTaskFunction(alice, {kind: BUILTIN, builtin_name: "psi"});
//   auto t = *core->CreateTask(alice, create_req);         // Created
//   core->AssignInput(bob, {task_id, "set.bob", file});    // … DataAssigned
//   core->ApproveTask(bob, {task_id, t.task().digest()});  // … Approved
//   core->InvokeTask(alice, {task_id});                    // Queued
//   auto lease = *core->Claim(worker, {});                 // Running (exec)
//   core->Complete(worker, {task_id, token, outputs});     // Succeeded
//
// Every state change is one store transaction guarded by the version and
// state it was computed from (task_store.h); a concurrent change makes it
// fail with Aborted [TASK_CHANGED] and changes nothing. A task is visible
// only to its participants: to anyone else it is NotFound [TASK_NOT_FOUND],
// the same answer as for an absent one. Thread-safe. Reasons: tasks_reasons.h.
// Defined in tasks_plumbing.cc (construction, audit, counters), tasks_core.cc
// (the lifecycle), tasks_bindings.cc, tasks_reads.cc, tasks_functions.cc and
// tasks_queue.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/thread_annotations.h"
#include "proto/internal.pb.h"
#include "proto/tasks.pb.h"
#include "services/common/audit_log.h"
#include "services/common/caller.h"
#include "services/tasks/task_model.h"
#include "services/tasks/task_store.h"
#include "services/tasks/tasks_reasons.h"

namespace cloister::tasks_service {

using Caller = services::Caller;

// What cloister-storage says about a file a user assigns.
struct FileFacts {
  std::string owner;  // the file's owner's user id
  Bytes sha256;       // SHA-256 of its stored ciphertext (32 bytes)
};
// Looks up `file_id` for `caller`: NotFound [FILE_NOT_FOUND] when the file
// is absent or not the caller's (storage gives both the same answer), other
// errors (Unavailable) as they come. main.cc calls storage's internal
// StatFileForTask; unit tests pass a fake. Must be thread-safe.
using FileLookup = std::function<Result<FileFacts>(const Caller& caller, std::string_view file_id)>;

inline constexpr size_t kMaxSourceBytes = 4u << 20;   // a Lua source
inline constexpr size_t kMaxAllowedUsers = 1024;
inline constexpr size_t kMaxTaskSlots = 256;           // inputs, outputs each
inline constexpr size_t kMaxSlotOwners = 64;
inline constexpr size_t kMaxArgStringBytes = 64u << 10;
inline constexpr size_t kMaxArgsBytes = 1u << 20;      // all string arguments together
inline constexpr std::string_view kWorkerPrincipal = "service:exec";
inline constexpr std::string_view kSelfPrincipal = "service:tasks";

struct TasksOptions {
  int64_t lease_ms = 30'000;        // a claim's lease; a heartbeat renews it
  int max_attempts = 3;             // claims per task before an expired lease fails it
  int64_t backoff_ms = 1'000;       // before the first retry; doubles per attempt
  int64_t max_backoff_ms = 60'000;
  uint32_t default_wait_ms = 10'000;
  uint32_t max_wait_ms = 30'000;    // WaitTask's bound (below the gateway's forward timeout)
  size_t max_waiters = 256;         // concurrent WaitTask calls
  // Signs a claimed task's grant (services/common/task_grant.h
  // SignTaskGrant with this enclave); returns the serialized
  // SignedTaskGrant. Unset (unit tests): leases carry no grant.
  std::function<Result<std::string>(internal::TaskGrant)> sign_task_grant;
};

// The one kind of caller that may pull work: the attested service "exec"
// (a service Caller only the grant verifier builds). The core's queue
// methods take a Worker, so a user can never reach them.
class Worker {
 public:
  // PermissionDenied [WORKER_ONLY] unless `c` is the service "exec".
  static Result<Worker> FromCaller(const Caller& c);
  // Unit tests (a service Caller cannot be made outside the verifier).
  static Worker ForTesting(std::string principal = std::string(kWorkerPrincipal)) {
    return Worker(std::move(principal));
  }
  const std::string& principal() const { return principal_; }

 private:
  explicit Worker(std::string principal) : principal_(std::move(principal)) {}
  std::string principal_;
};

class TasksCore {
 public:
  // Opens the store at `db_url`. `audit` may be null (unit tests);
  // `clock_ms` returns unix milliseconds.
  static Result<std::unique_ptr<TasksCore>> Open(std::string_view db_url, FileLookup files,
                                                 services::AuditLog* audit,
                                                 TasksOptions options = {},
                                                 std::function<int64_t()> clock_ms = {});
  TasksCore(std::unique_ptr<TaskStore> store, FileLookup files, services::AuditLog* audit,
            TasksOptions options, std::function<int64_t()> clock_ms);

  // ---- functions (tasks_functions.cc) ----
  // InvalidArgument [FUNCTION_KIND_INVALID] [BUILTIN_UNKNOWN]
  // [FUNCTION_SPEC_INVALID] [FUNCTION_SOURCE_INVALID] [LUA_SYNTAX_ERROR]
  // [TEXT_TOO_LONG] [USER_ID_INVALID]; InvalidArgument
  // [FUNCTION_SOURCE_TOO_LARGE] over 4 MiB; NotFound [FUNCTION_NOT_FOUND],
  // PermissionDenied [NOT_FUNCTION_OWNER] for a version of another's function.
  Result<tasks::RegisterTaskFunctionResponse> RegisterTaskFunction(
      const Caller& c, const tasks::RegisterTaskFunctionRequest& r);
  Result<tasks::ListTaskFunctionsResponse> ListTaskFunctions(
      const Caller& c, const tasks::ListTaskFunctionsRequest& r);
  // NotFound [FUNCTION_NOT_FOUND] when absent or not usable by the caller;
  // InvalidArgument [FUNCTION_AMBIGUOUS] for a hash two functions share.
  Result<tasks::GetTaskFunctionResponse> GetTaskFunction(const Caller& c,
                                                         const tasks::GetTaskFunctionRequest& r);
  Result<tasks::DisableTaskFunctionResponse> DisableTaskFunction(
      const Caller& c, const tasks::DisableTaskFunctionRequest& r);

  // ---- tasks (tasks_core.cc; the reads and WaitTask: tasks_reads.cc) ----
  // InvalidArgument [ARGS_INVALID] [SLOTS_INVALID] [USER_ID_INVALID] …;
  // NotFound [FUNCTION_NOT_FOUND]; FailedPrecondition [FUNCTION_DISABLED].
  Result<tasks::CreateTaskResponse> CreateTask(const Caller& c, const tasks::CreateTaskRequest& r);
  // The creator only (PermissionDenied [NOT_TASK_CREATOR]), before the task is queued.
  Result<tasks::UpdateTaskResponse> UpdateTask(const Caller& c, const tasks::UpdateTaskRequest& r);
  // The slot's owner only (PermissionDenied [NOT_SLOT_OWNER]), a file it
  // owns (NotFound [FILE_NOT_FOUND]), before the task is queued.
  Result<tasks::AssignInputResponse> AssignInput(const Caller& c, const tasks::AssignInputRequest& r);
  // FailedPrecondition [DIGEST_STALE] (the message names the current
  // digest), [INPUTS_MISSING] before every input is assigned.
  Result<tasks::ApproveTaskResponse> ApproveTask(const Caller& c, const tasks::ApproveTaskRequest& r);
  Result<tasks::RejectTaskResponse> RejectTask(const Caller& c, const tasks::RejectTaskRequest& r);
  // FailedPrecondition [NOT_APPROVED] without an approval; a queued task
  // goes back to DataAssigned.
  Result<tasks::RevokeApprovalResponse> RevokeApproval(const Caller& c,
                                                       const tasks::RevokeApprovalRequest& r);
  // FailedPrecondition [INPUTS_MISSING] [APPROVALS_MISSING] (naming who)
  // [FUNCTION_DISABLED]; a queued task: unchanged, OK.
  Result<tasks::InvokeTaskResponse> InvokeTask(const Caller& c, const tasks::InvokeTaskRequest& r);
  Result<tasks::CancelTaskResponse> CancelTask(const Caller& c, const tasks::CancelTaskRequest& r);
  Result<tasks::GetTaskResponse> GetTask(const Caller& c, const tasks::GetTaskRequest& r);
  Result<tasks::ListTasksResponse> ListTasks(const Caller& c, const tasks::ListTasksRequest& r);
  // Blocks up to the timeout (InvalidArgument [TIMEOUT_INVALID] above
  // max_wait_ms; ResourceExhausted [WAITERS_EXHAUSTED] past max_waiters).
  // `cancelled` (may be empty) is polled so a gone client frees its slot.
  Result<tasks::WaitTaskResponse> WaitTask(const Caller& c, const tasks::WaitTaskRequest& r,
                                           const std::function<bool()>& cancelled = {});
  Result<tasks::GetTaskLogResponse> GetTaskLog(const Caller& c, const tasks::GetTaskLogRequest& r);

  // ---- the queue (tasks_queue.cc) ----
  // The gRPC entry points: Worker::FromCaller, then the Worker overloads.
  Result<tasks::ClaimTaskResponse> ClaimTask(const Caller& c, const tasks::ClaimTaskRequest& r);
  Result<tasks::HeartbeatTaskResponse> HeartbeatTask(const Caller& c,
                                                     const tasks::HeartbeatTaskRequest& r);
  Result<tasks::CompleteTaskResponse> CompleteTask(const Caller& c,
                                                   const tasks::CompleteTaskRequest& r);
  Result<tasks::FailTaskResponse> FailTask(const Caller& c, const tasks::FailTaskRequest& r);
  // Expires leases first, then leases the oldest claimable queued task.
  Result<tasks::ClaimTaskResponse> Claim(const Worker& w, const tasks::ClaimTaskRequest& r);
  // FailedPrecondition [LEASE_LOST] unless the task runs under this
  // fencing token with a live lease ([TASK_CANCELED] once canceled).
  Result<tasks::HeartbeatTaskResponse> Heartbeat(const Worker& w,
                                                 const tasks::HeartbeatTaskRequest& r);
  // As Heartbeat; InvalidArgument [OUTPUTS_INVALID] unless `outputs`
  // names exactly the task's output slots. Succeeds at most once per task.
  Result<tasks::CompleteTaskResponse> Complete(const Worker& w, const tasks::CompleteTaskRequest& r);
  // Requeues (retryable, attempts left, with backoff) or fails the task.
  Result<tasks::FailTaskResponse> Fail(const Worker& w, const tasks::FailTaskRequest& r);
  // Leases expired now: requeued with backoff while attempts remain, else
  // Failed [ATTEMPTS_EXHAUSTED]. How many were handled. main.cc runs it
  // every second; Claim runs it first.
  Result<size_t> ExpireLeases();

  // TasksHealthResponse.counters.
  std::map<std::string, uint64_t> Counters();
  // A call refused before it reached the core (the service's grant check).
  void CountRefusal() { refusals_++; }
  // Runs `hook` once, between computing the next change and committing it
  // (tests: make a concurrent change win the race).
  void SetBeforeCommitForTesting(std::function<void()> hook);

 private:
  struct Trace {
    std::string resource;  // the task or function id, for the audit entry
  };
  // What a transition recorded, for its event.
  struct Change {
    std::string event;
    std::string detail;
    bool noop = false;  // nothing to commit: return the task as it is
  };
  template <typename T, typename Fn>
  Result<T> Call(const Caller& c, std::string_view op, bool audit_success, Fn fn);
  template <typename T, typename Fn>
  Result<T> WorkerCall(const std::string& principal, std::string_view op, Fn fn);
  Status Audit(std::string_view principal, std::string_view op, const Status& outcome,
               std::string_view request_id, std::string_view resource);
  Status CheckUser(const Caller& c);
  int64_t Now() const { return clock_(); }

  // The task, if `user` participates in it (else TASK_NOT_FOUND).
  Result<TaskRow> LoadVisible(std::string_view user, std::string_view task_id);
  // Load, check the caller participates, let `fn` change a copy, settle
  // the state, re-digest (a new digest voids every approval), commit
  // guarded by the loaded version and state. Returns the committed task.
  Result<TaskRow> Transition(const std::string& actor, std::string_view task_id,
                             bool participant_only,
                             const std::function<Status(TaskRow&, Change&)>& fn);
  Status Commit(const TaskRow& before, TaskRow& next, const Change& ch, const std::string& actor);
  // Resolves a usable function version for a task (tasks_functions.cc).
  Result<FunctionRow> ResolveVersion(const Caller& c, std::string_view hash,
                                     std::string_view function_id);
  bool CanUse(const FunctionRow& f, std::string_view user) const;
  // Binds args and slots of `t` from a request against `fn`'s spec
  // (tasks_bindings.cc).
  Status BindArgs(const FunctionRow& fn,
                  const google::protobuf::Map<std::string, api::ArgumentValue>& args, TaskRow& t);
  Status BindSlots(const FunctionRow& fn, const google::protobuf::Map<std::string, std::string>& in,
                   const google::protobuf::Map<std::string, tasks::SlotOwners>& out, TaskRow& t);
  void SetParticipants(const FunctionRow& fn, TaskRow& t) const;
  // The task as `viewer` sees it, and what it waits for (tasks_reads.cc).
  tasks::Task ToProto(const TaskRow& t, std::string_view viewer);
  std::vector<std::string> Missing(const TaskRow& t,
                                   const std::map<std::string, std::string>& names) const;
  tasks::FunctionVersion VersionToProto(const FunctionRow& f, std::string_view viewer,
                                        bool with_source) const;
  void NoteUser(const Caller& c);
  // A refusal for a change of `t` in a state that allows none.
  Status RefuseByState(const TaskRow& t, std::string_view what) const;
  int64_t Backoff(int64_t attempts) const;
  Result<tasks::TaskLease> LeaseOf(const TaskRow& t);
  // The task grant for `t`'s current lease (its token and expiry).
  Result<std::string> SignGrantFor(const TaskRow& t) const;
  // The lease check of Heartbeat/Complete/Fail.
  Status CheckLease(const TaskRow& t, uint64_t token) const;
  void Notify();

  std::unique_ptr<TaskStore> store_;
  FileLookup files_;
  services::AuditLog* audit_;
  TasksOptions options_;
  std::function<int64_t()> clock_;

  std::mutex mu_;
  std::condition_variable changed_cv_;
  uint64_t generation_ CLOISTER_GUARDED_BY(mu_) = 0;  // +1 per committed change
  std::map<std::string, std::string> usernames_ CLOISTER_GUARDED_BY(mu_);  // noted already
  std::function<void()> before_commit_ CLOISTER_GUARDED_BY(mu_);
  std::atomic<size_t> waiters_{0};

  std::atomic<uint64_t> transitions_{0}, refusals_{0}, claims_{0}, leases_expired_{0},
      requeued_{0}, succeeded_{0}, failed_{0};
};

// The wrappers every entry point runs through (defined here: the entry
// points live in several .cc files).
template <typename T, typename Fn>
Result<T> TasksCore::Call(const Caller& c, std::string_view op, bool audit_success, Fn fn) {
  Trace t;
  Result<T> r = [&]() -> Result<T> {
    CLOISTER_RETURN_IF_ERROR(CheckUser(c));
    NoteUser(c);
    return fn(t);
  }();
  if (!r.ok()) refusals_++;
  // Every refusal and every change is audited; successful reads are not
  // (the gateway's log has every call).
  if (!r.ok() || audit_success)
    CLOISTER_RETURN_IF_ERROR(Audit(c.user_id().empty() ? "anonymous" : c.user_id(), op,
                                   r.status(), c.request_id(), t.resource));
  return r;
}

template <typename T, typename Fn>
Result<T> TasksCore::WorkerCall(const std::string& principal, std::string_view op, Fn fn) {
  Trace t;
  Result<T> r = fn(t);
  if (!r.ok()) refusals_++;
  // An empty claim is a poll, not an event.
  if (!r.ok() || !t.resource.empty())
    CLOISTER_RETURN_IF_ERROR(Audit(principal, op, r.status(), "", t.resource));
  return r;
}

}  // namespace cloister::tasks_service
