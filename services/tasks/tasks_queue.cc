// cloister-tasks' work queue: claims under a lease with a fencing token,
// heartbeats, completion, failure, and the expiry of lost leases (requeue
// with backoff, bounded attempts); see tasks_core.h and docs/tasks.md.
#include "services/tasks/tasks_core.h"

#include <algorithm>
#include <set>

#include "common/logging.h"
#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {

constexpr size_t kClaimCandidates = 16;
constexpr size_t kExpireBatch = 100;
constexpr uint32_t kMaxClaimWaitMs = 10'000;

Error LeaseLost(std::string why) {
  return FailedPrecondition("lease lost: " + why + "; drop this task's result",
                            reason::kLeaseLost);
}

bool IsReasonName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameBytes &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
         });
}

}  // namespace

int64_t TasksCore::Backoff(int64_t attempts) const {
  // backoff_ms, 2×, 4×, … capped: a flapping worker cannot spin a task.
  int64_t b = options_.backoff_ms;
  for (int64_t i = 1; i < attempts && b < options_.max_backoff_ms; ++i) b *= 2;
  return std::min(b, options_.max_backoff_ms);
}

Status TasksCore::CheckLease(const TaskRow& t, uint64_t token) const {
  if (t.state == tasks::TASK_STATE_CANCELED)
    return FailedPrecondition("the task was canceled by " + t.end_by + "; drop its result",
                              reason::kTaskCanceled);
  if (t.state != tasks::TASK_STATE_RUNNING) return LeaseLost("the task is not running");
  if (token == 0 || token != static_cast<uint64_t>(t.lease_token))
    return LeaseLost("fencing token " + std::to_string(token) + " is not the current one");
  if (t.lease_expires_ms <= Now()) return LeaseLost("the lease expired");
  return OkStatus();
}

Result<tasks::TaskLease> TasksCore::LeaseOf(const TaskRow& t) {
  CLOISTER_ASSIGN_OR_RETURN(auto fn, store_->GetVersion(t.function_id, t.function_hash, true));
  if (!fn) return DataLoss("a queued task's function version is gone", reason::kStoreInconsistent);
  tasks::TaskLease l;
  l.set_task_id(t.task_id);
  l.set_fencing_token(static_cast<uint64_t>(t.lease_token));
  l.set_lease_expires_unix_ms(t.lease_expires_ms);
  l.set_attempt(static_cast<uint32_t>(t.attempts));
  l.set_function_hash(t.function_hash);
  l.set_kind(fn->kind);
  if (fn->kind == tasks::FUNCTION_KIND_BUILTIN) l.set_builtin_name(fn->builtin_name);
  else l.set_lua_source(fn->source);
  *l.mutable_spec() = fn->spec;
  for (const auto& [name, v] : t.args) (*l.mutable_args())[name] = ArgToProto(v);
  for (const auto& [slot, in] : t.inputs) {
    auto* li = l.add_inputs();
    li->set_slot(slot);
    li->set_owner_user_id(in.owner);
    li->set_file_id(in.file_id);
    li->set_ciphertext_sha256(std::string(AsChars(in.sha256)));
  }
  for (const auto& [slot, out] : t.outputs) {
    auto* lo = l.add_outputs();
    lo->set_slot(slot);
    for (const auto& o : out.owners) lo->add_owner_user_ids(o);
  }
  l.set_digest(t.digest);
  CLOISTER_ASSIGN_OR_RETURN(std::string grant, SignGrantFor(t));
  l.set_task_grant(std::move(grant));
  return l;
}

Result<std::string> TasksCore::SignGrantFor(const TaskRow& t) const {
  if (!options_.sign_task_grant) return std::string();  // unit tests without a signer
  internal::TaskGrant g;
  g.set_task_id(t.task_id);
  g.set_fencing_token(static_cast<uint64_t>(t.lease_token));
  g.set_digest(t.digest);
  g.set_worker_role(std::string(kWorkerPrincipal.substr(kWorkerPrincipal.find(':') + 1)));
  g.set_expires_unix_ms(t.lease_expires_ms);
  for (const auto& [slot, in] : t.inputs) {
    if (in.file_id.empty()) continue;  // an optional slot left unbound
    auto* gi = g.add_inputs();
    gi->set_slot(slot);
    gi->set_file_id(in.file_id);
    gi->set_owner_user_id(in.owner);
    gi->set_ciphertext_sha256(std::string(AsChars(in.sha256)));
  }
  for (const auto& [slot, out] : t.outputs) {
    auto* go = g.add_outputs();
    go->set_slot(slot);
    for (const auto& o : out.owners) go->add_owner_user_ids(o);
  }
  return options_.sign_task_grant(std::move(g));
}

// ---- the gRPC entry points ----

Result<tasks::ClaimTaskResponse> TasksCore::ClaimTask(const Caller& c,
                                                      const tasks::ClaimTaskRequest& r) {
  auto w = Worker::FromCaller(c);
  if (!w.ok()) {
    refusals_++;
    CLOISTER_RETURN_IF_ERROR(Audit(c.user_id().empty() ? "anonymous" : c.user_id(), "ClaimTask",
                                   w.status(), c.request_id(), ""));
    return w.error();
  }
  return Claim(*w, r);
}

#define CLOISTER_TASKS_WORKER_ENTRY(Entry, Impl)                                                  \
  Result<tasks::Entry##Response> TasksCore::Entry(const Caller& c,                                \
                                                  const tasks::Entry##Request& r) {               \
    auto w = Worker::FromCaller(c);                                                               \
    if (!w.ok()) {                                                                                \
      refusals_++;                                                                                \
      CLOISTER_RETURN_IF_ERROR(Audit(c.user_id().empty() ? "anonymous" : c.user_id(), #Entry,     \
                                     w.status(), c.request_id(), r.task_id()));                   \
      return w.error();                                                                           \
    }                                                                                             \
    return Impl(*w, r);                                                                           \
  }
CLOISTER_TASKS_WORKER_ENTRY(HeartbeatTask, Heartbeat)
CLOISTER_TASKS_WORKER_ENTRY(CompleteTask, Complete)
CLOISTER_TASKS_WORKER_ENTRY(FailTask, Fail)
#undef CLOISTER_TASKS_WORKER_ENTRY

// ---- the queue ----

Result<tasks::ClaimTaskResponse> TasksCore::Claim(const Worker& w, const tasks::ClaimTaskRequest& r) {
  return WorkerCall<tasks::ClaimTaskResponse>(w.principal(), "ClaimTask", [&](Trace& tr)
                                                  -> Result<tasks::ClaimTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckText("worker_id", r.worker_id(), kMaxWorkerIdBytes));
    if (r.wait_ms() > kMaxClaimWaitMs)
      return InvalidArgument("wait_ms is at most " + std::to_string(kMaxClaimWaitMs),
                             reason::kTimeoutInvalid);
    // A long poll: an idle worker learns of a queued task at the commit
    // that queued it, not at its next poll. Woken by any commit, and every
    // 100 ms for tasks whose backoff ends or whose lease expires (neither
    // is a commit).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(r.wait_ms());
    struct Release {
      std::atomic<size_t>* n;
      ~Release() {
        if (n != nullptr) (*n)--;
      }
    } release{nullptr};
    for (;;) {
      uint64_t seen = 0;
      {
        std::lock_guard lock(mu_);
        seen = generation_;
      }
      CLOISTER_RETURN_IF_ERROR(ExpireLeases().status());
      const int64_t now = Now();
      CLOISTER_ASSIGN_OR_RETURN(auto candidates, store_->ClaimCandidates(now, kClaimCandidates));
      for (const std::string& id : candidates) {
        CLOISTER_ASSIGN_OR_RETURN(auto loaded, store_->LoadTask(id));
        if (!loaded || loaded->state != tasks::TASK_STATE_QUEUED || loaded->not_before_ms > now)
          continue;
        TaskRow next = *loaded;
        next.state = tasks::TASK_STATE_RUNNING;
        next.attempts++;
        next.lease_token++;  // fencing: every earlier holder's token is now stale
        next.lease_worker = w.principal() + (r.worker_id().empty() ? "" : "/" + r.worker_id());
        next.lease_expires_ms = now + options_.lease_ms;
        Change ch{"claimed",
                  "attempt " + std::to_string(next.attempts) + " of " +
                      std::to_string(options_.max_attempts) + " by " + next.lease_worker,
                  false};
        // Everything the worker needs is read before the claim commits, so a
        // committed claim always reaches its worker (or its lease expires).
        tasks::ClaimTaskResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_lease(), LeaseOf(next));
        Status st = Commit(*loaded, next, ch, w.principal());
        if (!st.ok() && st.error().reason() == reason::kTaskChanged) continue;  // another worker won
        CLOISTER_RETURN_IF_ERROR(st);
        claims_++;
        tr.resource = next.task_id;
        resp.set_claimed(true);
        return resp;
      }
      const auto wall = std::chrono::steady_clock::now();
      if (wall >= deadline) return tasks::ClaimTaskResponse();
      if (release.n == nullptr) {
        // Long polls share WaitTask's bound on parked threads.
        if (waiters_.fetch_add(1) >= options_.max_waiters) {
          waiters_--;
          return tasks::ClaimTaskResponse();  // nothing now; the worker polls again
        }
        release.n = &waiters_;
      }
      std::unique_lock lock(mu_);
      changed_cv_.wait_until(lock, std::min(deadline, wall + std::chrono::milliseconds(100)),
                             [&] { return generation_ != seen; });
    }
  });
}

Result<tasks::HeartbeatTaskResponse> TasksCore::Heartbeat(const Worker& w,
                                                          const tasks::HeartbeatTaskRequest& r) {
  return WorkerCall<tasks::HeartbeatTaskResponse>(w.principal(), "HeartbeatTask", [&](Trace&)
                                                      -> Result<tasks::HeartbeatTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    CLOISTER_ASSIGN_OR_RETURN(auto t, store_->LoadTask(r.task_id()));
    if (!t) return NotFound("no such task", reason::kTaskNotFound);
    CLOISTER_RETURN_IF_ERROR(CheckLease(*t, r.fencing_token()));
    const int64_t now = Now();
    const int64_t expires = now + options_.lease_ms;
    CLOISTER_ASSIGN_OR_RETURN(bool extended, store_->ExtendLease(r.task_id(), t->lease_token, now, expires));
    if (!extended) return LeaseLost("the lease ended while renewing it");
    tasks::HeartbeatTaskResponse resp;
    resp.set_lease_expires_unix_ms(expires);
    TaskRow renewed = *t;
    renewed.lease_expires_ms = expires;
    CLOISTER_ASSIGN_OR_RETURN(std::string grant, SignGrantFor(renewed));
    resp.set_task_grant(std::move(grant));
    return resp;
  });
}

Result<tasks::CompleteTaskResponse> TasksCore::Complete(const Worker& w,
                                                        const tasks::CompleteTaskRequest& r) {
  return WorkerCall<tasks::CompleteTaskResponse>(w.principal(), "CompleteTask", [&](Trace& tr)
                                                     -> Result<tasks::CompleteTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    if (static_cast<size_t>(r.outputs_size()) > kMaxTaskSlots * kMaxSlotOwners)
      return InvalidArgument("outputs: too many entries", reason::kOutputsInvalid);
    for (int i = 0; i < r.outputs_size(); ++i)
      CLOISTER_RETURN_IF_ERROR(
          CheckFileId("outputs[" + std::to_string(i) + "].file_id", r.outputs(i).file_id()));
    CLOISTER_ASSIGN_OR_RETURN(auto loaded, store_->LoadTask(r.task_id()));
    if (!loaded) return NotFound("no such task", reason::kTaskNotFound);
    CLOISTER_RETURN_IF_ERROR(CheckLease(*loaded, r.fencing_token()));
    TaskRow next = *loaded;
    // Exactly one file per (slot, owner): none missing, none extra, none twice.
    std::set<std::string> seen_files;
    for (const auto& o : r.outputs()) {
      const std::string where = "outputs[" + o.slot().substr(0, 130) + "/" +
                                o.owner_user_id().substr(0, 64) + "]";
      auto it = next.outputs.find(o.slot());
      if (it == next.outputs.end() || !it->second.owners.count(o.owner_user_id()))
        return InvalidArgument(where + ": the task has no such output slot and owner",
                               reason::kOutputsInvalid);
      if (!it->second.file_ids.emplace(o.owner_user_id(), o.file_id()).second)
        return InvalidArgument(where + ": given twice", reason::kOutputsInvalid);
      if (!seen_files.insert(o.file_id()).second)
        return InvalidArgument(where + ": the same file for two outputs", reason::kOutputsInvalid);
    }
    for (const auto& [slot, out] : next.outputs)
      for (const auto& owner : out.owners)
        if (!out.file_ids.count(owner))
          return InvalidArgument("outputs: no file for output slot '" + slot + "' of " + owner,
                                 reason::kOutputsInvalid);
    next.state = tasks::TASK_STATE_SUCCEEDED;
    next.lease_worker.clear();
    next.lease_expires_ms = 0;
    Change ch{"succeeded", "attempt " + std::to_string(next.attempts), false};
    // The state guard makes success happen at most once: a second result,
    // even with the same token, finds the task no longer Running.
    CLOISTER_RETURN_IF_ERROR(Commit(*loaded, next, ch, w.principal()));
    succeeded_++;
    return tasks::CompleteTaskResponse();
  });
}

Result<tasks::FailTaskResponse> TasksCore::Fail(const Worker& w, const tasks::FailTaskRequest& r) {
  return WorkerCall<tasks::FailTaskResponse>(w.principal(), "FailTask", [&](Trace& tr)
                                                 -> Result<tasks::FailTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    if (!IsReasonName(r.reason()))
      return InvalidArgument("reason must be a stable reason name ([A-Z0-9_]{1,64})",
                             reason::kFailureReasonInvalid);
    CLOISTER_RETURN_IF_ERROR(CheckText("message", r.message(), kMaxNoteBytes));
    CLOISTER_ASSIGN_OR_RETURN(auto loaded, store_->LoadTask(r.task_id()));
    if (!loaded) return NotFound("no such task", reason::kTaskNotFound);
    CLOISTER_RETURN_IF_ERROR(CheckLease(*loaded, r.fencing_token()));
    TaskRow next = *loaded;
    next.lease_worker.clear();
    next.lease_expires_ms = 0;
    Change ch;
    if (r.retryable() && next.attempts < options_.max_attempts) {
      const int64_t wait = Backoff(next.attempts);
      next.state = tasks::TASK_STATE_QUEUED;
      next.not_before_ms = Now() + wait;
      ch = {"requeued", r.reason() + ": " + r.message() + " (retry in " + std::to_string(wait) + " ms)",
            false};
    } else {
      next.state = tasks::TASK_STATE_FAILED;
      next.end_reason = r.reason();
      next.end_message = r.message();
      next.end_by = w.principal();
      ch = {"failed", r.reason() + ": " + r.message(), false};
    }
    CLOISTER_RETURN_IF_ERROR(Commit(*loaded, next, ch, w.principal()));
    if (next.state == tasks::TASK_STATE_QUEUED) requeued_++;
    else failed_++;
    tasks::FailTaskResponse resp;
    resp.set_state(next.state);
    return resp;
  });
}

Result<size_t> TasksCore::ExpireLeases() {
  const int64_t now = Now();
  CLOISTER_ASSIGN_OR_RETURN(auto ids, store_->ExpiredLeases(now, kExpireBatch));
  size_t handled = 0;
  for (const std::string& id : ids) {
    CLOISTER_ASSIGN_OR_RETURN(auto loaded, store_->LoadTask(id));
    if (!loaded || loaded->state != tasks::TASK_STATE_RUNNING || loaded->lease_expires_ms > now)
      continue;
    TaskRow next = *loaded;
    const std::string holder = next.lease_worker;
    next.lease_worker.clear();
    next.lease_expires_ms = 0;
    Change ch;
    // The fencing token stays: the next claim increments it, so the lost
    // holder's token never matches again.
    if (next.attempts < options_.max_attempts) {
      const int64_t wait = Backoff(next.attempts);
      next.state = tasks::TASK_STATE_QUEUED;
      next.not_before_ms = now + wait;
      ch = {"requeued",
            "the lease of attempt " + std::to_string(next.attempts) + " (" + holder +
                ") expired; retry in " + std::to_string(wait) + " ms",
            false};
    } else {
      next.state = tasks::TASK_STATE_FAILED;
      next.end_reason = reason::kEndAttemptsExhausted;
      next.end_message = "the worker's lease expired on each of " +
                         std::to_string(next.attempts) + " attempts (last: " + holder + ")";
      next.end_by = std::string(kSelfPrincipal);
      ch = {"failed", next.end_message, false};
    }
    Status st = Commit(*loaded, next, ch, std::string(kSelfPrincipal));
    if (!st.ok() && st.error().reason() == reason::kTaskChanged) continue;  // e.g. a late completion
    CLOISTER_RETURN_IF_ERROR(st);
    leases_expired_++;
    if (next.state == tasks::TASK_STATE_QUEUED) requeued_++;
    else failed_++;
    handled++;
    CLOISTER_RETURN_IF_ERROR(Audit(kSelfPrincipal, "ExpireLease", OkStatus(), "", id));
  }
  return handled;
}

}  // namespace cloister::tasks_service
