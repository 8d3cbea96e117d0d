// cloister-tasks' task lifecycle: creation, changes, assignments, approvals,
// rejection, revocation, invocation and cancellation, and the guarded
// transition they all commit through; see tasks_core.h (construction and
// audit: tasks_plumbing.cc, bindings: tasks_bindings.cc, reads and the long
// poll: tasks_reads.cc, functions: tasks_functions.cc, queue: tasks_queue.cc).
#include "services/tasks/tasks_core.h"

#include "common/crypto/random.h"
#include "services/tasks/canonical.h"
#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {


Error TaskNotFound() {
  // The same answer whether the task is absent or the caller is not one of
  // its participants: task ids cannot be probed.
  return NotFound("no such task (or you are not one of its participants)", reason::kTaskNotFound);
}

std::string StateName(TaskState s) {
  switch (s) {
    case tasks::TASK_STATE_CREATED: return "Created";
    case tasks::TASK_STATE_DATA_ASSIGNED: return "DataAssigned";
    case tasks::TASK_STATE_APPROVED: return "Approved";
    case tasks::TASK_STATE_QUEUED: return "Queued";
    case tasks::TASK_STATE_RUNNING: return "Running";
    case tasks::TASK_STATE_SUCCEEDED: return "Succeeded";
    case tasks::TASK_STATE_FAILED: return "Failed";
    case tasks::TASK_STATE_CANCELED: return "Canceled";
    case tasks::TASK_STATE_REJECTED: return "Rejected";
    default: break;
  }
  return "Unspecified";
}

// Created until every input has a file; Approved once every participant
// approved the current digest; DataAssigned in between.
TaskState Settled(const TaskRow& t) {
  for (const auto& [slot, in] : t.inputs)
    if (in.file_id.empty()) return tasks::TASK_STATE_CREATED;
  for (const auto& p : t.participants) {
    auto it = t.approvals.find(p);
    if (it == t.approvals.end() || it->second.digest != t.digest)
      return tasks::TASK_STATE_DATA_ASSIGNED;
  }
  return tasks::TASK_STATE_APPROVED;
}

void ClearLease(TaskRow& t) {
  t.lease_worker.clear();
  t.lease_expires_ms = 0;
}

}  // namespace

// ---- transitions ----

Result<TaskRow> TasksCore::LoadVisible(std::string_view user, std::string_view task_id) {
  CLOISTER_RETURN_IF_ERROR(CheckTaskId(task_id));
  CLOISTER_ASSIGN_OR_RETURN(auto t, store_->LoadTask(task_id));
  if (!t || !t->participants.count(user)) return TaskNotFound();
  return *std::move(t);
}

Status TasksCore::Commit(const TaskRow& before, TaskRow& next, const Change& ch,
                         const std::string& actor) {
  next.version = before.version + 1;
  next.updated_ms = Now();
  EventRow ev;
  ev.at_ms = next.updated_ms;
  ev.actor = actor;
  ev.event = ch.event;
  ev.from = before.state;
  ev.to = next.state;
  ev.version = next.version;
  ev.digest = next.digest;
  ev.detail = ch.detail;
  std::function<void()> hook;
  {
    std::lock_guard lock(mu_);
    hook.swap(before_commit_);
  }
  if (hook) hook();
  CLOISTER_RETURN_IF_ERROR(store_->CommitTask(next, before.version, before.state, std::move(ev)));
  transitions_++;
  Notify();
  return OkStatus();
}

Result<TaskRow> TasksCore::Transition(const std::string& actor, std::string_view task_id,
                                      bool participant_only,
                                      const std::function<Status(TaskRow&, Change&)>& fn) {
  CLOISTER_RETURN_IF_ERROR(CheckTaskId(task_id));
  CLOISTER_ASSIGN_OR_RETURN(auto loaded, store_->LoadTask(task_id));
  if (!loaded || (participant_only && !loaded->participants.count(actor))) return TaskNotFound();
  const TaskRow& before = *loaded;
  TaskRow next = before;
  Change ch;
  CLOISTER_RETURN_IF_ERROR(fn(next, ch));
  if (ch.noop) return next;
  if (IsBeforeQueue(next.state)) {
    // What everyone approves: any change of it voids every approval (a
    // participant approved that exact digest, never "the task").
    next.digest = TaskDigest(next);
    if (next.digest != before.digest) next.approvals.clear();
    std::erase_if(next.approvals, [&](const auto& a) { return !next.participants.count(a.first); });
    next.state = Settled(next);
  }
  CLOISTER_RETURN_IF_ERROR(Commit(before, next, ch, actor));
  return next;
}

Status TasksCore::RefuseByState(const TaskRow& t, std::string_view what) const {
  const std::string w(what);
  switch (t.state) {
    case tasks::TASK_STATE_QUEUED:
      return FailedPrecondition("the task is queued: " + w +
                                    " is no longer possible (revoke your approval or cancel first)",
                                reason::kTaskQueued);
    case tasks::TASK_STATE_RUNNING:
      return FailedPrecondition("the task is running: " + w + " is no longer possible",
                                reason::kTaskRunning);
    default: break;
  }
  return FailedPrecondition("the task has ended (" + StateName(t.state) + "): " + w +
                                " is no longer possible",
                            reason::kTaskFinished);
}

// ---- tasks ----

Result<tasks::CreateTaskResponse> TasksCore::CreateTask(const Caller& c,
                                                        const tasks::CreateTaskRequest& r) {
  return Call<tasks::CreateTaskResponse>(c, "CreateTask", true, [&](Trace& tr)
                                             -> Result<tasks::CreateTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckFunctionHash("function_hash", r.function_hash()));
    if (!r.function_id().empty()) CLOISTER_RETURN_IF_ERROR(CheckFunctionId(r.function_id()));
    CLOISTER_RETURN_IF_ERROR(CheckText("description", r.description(), kMaxDescriptionBytes));
    CLOISTER_ASSIGN_OR_RETURN(FunctionRow fn, ResolveVersion(c, r.function_hash(), r.function_id()));
    TaskRow t;
    t.task_id = crypto::RandomId();
    tr.resource = t.task_id;
    t.creator = c.user_id();
    t.function_id = fn.function_id;
    t.function_hash = fn.hash;
    t.description = r.description();
    CLOISTER_RETURN_IF_ERROR(BindArgs(fn, r.args(), t));
    CLOISTER_RETURN_IF_ERROR(BindSlots(fn, r.inputs(), r.outputs(), t));
    SetParticipants(fn, t);
    t.digest = TaskDigest(t);
    t.state = Settled(t);  // a task without inputs starts at DataAssigned
    t.version = 1;
    t.created_ms = t.updated_ms = Now();
    EventRow ev;
    ev.at_ms = t.created_ms;
    ev.actor = c.user_id();
    ev.event = "created";
    ev.to = t.state;
    ev.version = 1;
    ev.digest = t.digest;
    ev.detail = "function " + fn.spec.name() + " " + fn.hash;
    CLOISTER_RETURN_IF_ERROR(store_->InsertTask(t, std::move(ev)));
    transitions_++;
    Notify();
    tasks::CreateTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::UpdateTaskResponse> TasksCore::UpdateTask(const Caller& c,
                                                        const tasks::UpdateTaskRequest& r) {
  return Call<tasks::UpdateTaskResponse>(c, "UpdateTask", true, [&](Trace& tr)
                                             -> Result<tasks::UpdateTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    if (!r.function_hash().empty())
      CLOISTER_RETURN_IF_ERROR(CheckFunctionHash("function_hash", r.function_hash()));
    if (!r.function_id().empty()) CLOISTER_RETURN_IF_ERROR(CheckFunctionId(r.function_id()));
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          if (t.creator != c.user_id())
            return PermissionDenied("only the task's creator may change it", reason::kNotCreator);
          if (!IsBeforeQueue(t.state)) return RefuseByState(t, "changing it");
          const std::string hash = r.function_hash().empty() ? t.function_hash : r.function_hash();
          const std::string fid = r.function_id().empty() ? t.function_id : r.function_id();
          CLOISTER_ASSIGN_OR_RETURN(FunctionRow fn, ResolveVersion(c, hash, fid));
          std::string detail;
          if (fn.hash != t.function_hash || fn.function_id != t.function_id)
            detail += "function " + fn.hash + "; ";
          t.function_id = fn.function_id;
          t.function_hash = fn.hash;
          // Re-check everything against the (maybe new) spec; unset parts keep their value.
          google::protobuf::Map<std::string, api::ArgumentValue> args;
          for (const auto& [name, v] : t.args) args[name] = ArgToProto(v);
          google::protobuf::Map<std::string, std::string> in;
          for (const auto& [slot, row] : t.inputs) in[slot] = row.owner;
          google::protobuf::Map<std::string, tasks::SlotOwners> out;
          for (const auto& [slot, row] : t.outputs)
            for (const auto& o : row.owners) out[slot].add_user_ids(o);
          if (r.set_args()) {
            args = r.args();
            detail += "arguments; ";
          }
          if (r.set_inputs()) {
            in = r.inputs();
            detail += "input owners; ";
          }
          if (r.set_outputs()) {
            out = r.outputs();
            detail += "output owners; ";
          }
          CLOISTER_RETURN_IF_ERROR(BindArgs(fn, args, t));
          CLOISTER_RETURN_IF_ERROR(BindSlots(fn, in, out, t));
          SetParticipants(fn, t);
          ch.event = "updated";
          ch.detail = detail.empty() ? "nothing" : detail.substr(0, detail.size() - 2);
          return OkStatus();
        }));
    tasks::UpdateTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::AssignInputResponse> TasksCore::AssignInput(const Caller& c,
                                                          const tasks::AssignInputRequest& r) {
  return Call<tasks::AssignInputResponse>(c, "AssignInput", true, [&](Trace& tr)
                                              -> Result<tasks::AssignInputResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    CLOISTER_RETURN_IF_ERROR(CheckSlotName("slot", r.slot()));
    CLOISTER_RETURN_IF_ERROR(CheckFileId("file_id", r.file_id()));
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          auto it = t.inputs.find(r.slot());
          if (it == t.inputs.end())
            return InvalidArgument("slot: the task has no input slot '" + r.slot() + "'",
                                   reason::kSlotUnknown);
          if (it->second.owner != c.user_id())
            return PermissionDenied("slot `" + r.slot() + "` is for its owner to assign, not you",
                                    reason::kNotSlotOwner);
          if (!IsBeforeQueue(t.state)) return RefuseByState(t, "assigning data");
          if (!files_) return Unavailable("no file store to check the file with", reason::kStorageUnavailable);
          // Storage answers for this caller only: another user's file is
          // FILE_NOT_FOUND there, and the owner is checked again here.
          CLOISTER_ASSIGN_OR_RETURN(FileFacts f, files_(c, r.file_id()));
          if (f.owner != c.user_id() || f.sha256.size() != 32)
            return NotFound("no such file (or not yours)", reason::kFileNotFound);
          if (it->second.file_id == r.file_id() && it->second.sha256 == f.sha256) {
            ch.noop = true;  // assigning the same file again changes nothing
            return OkStatus();
          }
          it->second.file_id = r.file_id();
          it->second.sha256 = f.sha256;
          ch.event = "assigned";
          ch.detail = "slot " + r.slot() + " ← file " + r.file_id();
          return OkStatus();
        }));
    tasks::AssignInputResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::ApproveTaskResponse> TasksCore::ApproveTask(const Caller& c,
                                                          const tasks::ApproveTaskRequest& r) {
  return Call<tasks::ApproveTaskResponse>(c, "ApproveTask", true, [&](Trace& tr)
                                              -> Result<tasks::ApproveTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    CLOISTER_RETURN_IF_ERROR(CheckDigest(r.digest()));
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          if (t.state == tasks::TASK_STATE_CREATED) {
            std::string waits;
            for (const auto& [slot, in] : t.inputs)
              if (in.file_id.empty()) waits += (waits.empty() ? "" : ", ") + slot;
            return FailedPrecondition("inputs are not all assigned yet (" + waits +
                                          "); approve once the task shows its full digest",
                                      reason::kInputsMissing);
          }
          const bool approved_mine = t.approvals.count(c.user_id()) > 0;
          if (!IsBeforeQueue(t.state)) {
            // A retried approval of what was queued: nothing to change.
            if (t.state == tasks::TASK_STATE_QUEUED && r.digest() == t.digest && approved_mine) {
              ch.noop = true;
              return OkStatus();
            }
            return RefuseByState(t, "approving it");
          }
          if (r.digest() != t.digest)
            return FailedPrecondition("the task changed: its digest is now " + t.digest +
                                          ", not the " + r.digest() +
                                          " you approved; review it again and approve that digest",
                                      reason::kDigestStale);
          if (approved_mine) {
            ch.noop = true;
            return OkStatus();
          }
          t.approvals[c.user_id()] = {c.user_id(), t.digest, Now()};
          ch.event = "approved";
          ch.detail = "digest " + t.digest;
          return OkStatus();
        }));
    tasks::ApproveTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::RejectTaskResponse> TasksCore::RejectTask(const Caller& c,
                                                        const tasks::RejectTaskRequest& r) {
  return Call<tasks::RejectTaskResponse>(c, "RejectTask", true, [&](Trace& tr)
                                             -> Result<tasks::RejectTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    CLOISTER_RETURN_IF_ERROR(CheckText("reason", r.reason(), kMaxNoteBytes));
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          if (!IsBeforeQueue(t.state) && t.state != tasks::TASK_STATE_QUEUED)
            return RefuseByState(t, "rejecting it (a running task can be canceled)");
          t.state = tasks::TASK_STATE_REJECTED;
          t.end_reason = reason::kEndRejected;
          t.end_message = r.reason();
          t.end_by = c.user_id();
          ClearLease(t);
          ch.event = "rejected";
          ch.detail = r.reason();
          return OkStatus();
        }));
    tasks::RejectTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::RevokeApprovalResponse> TasksCore::RevokeApproval(
    const Caller& c, const tasks::RevokeApprovalRequest& r) {
  return Call<tasks::RevokeApprovalResponse>(c, "RevokeApproval", true, [&](Trace& tr)
                                                 -> Result<tasks::RevokeApprovalResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          if (!IsBeforeQueue(t.state) && t.state != tasks::TASK_STATE_QUEUED)
            return RefuseByState(t, "revoking an approval");
          if (!t.approvals.erase(c.user_id()))
            return FailedPrecondition("you have not approved this task", reason::kNotApproved);
          // Out of the queue: it waits for this participant again.
          if (t.state == tasks::TASK_STATE_QUEUED) t.state = tasks::TASK_STATE_APPROVED;
          ch.event = "revoked";
          return OkStatus();
        }));
    tasks::RevokeApprovalResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::InvokeTaskResponse> TasksCore::InvokeTask(const Caller& c,
                                                        const tasks::InvokeTaskRequest& r) {
  return Call<tasks::InvokeTaskResponse>(c, "InvokeTask", true, [&](Trace& tr)
                                             -> Result<tasks::InvokeTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    std::map<std::string, std::string> names;
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          switch (t.state) {
            case tasks::TASK_STATE_CREATED:
            case tasks::TASK_STATE_DATA_ASSIGNED: {
              if (auto n = store_->Usernames(t.participants); n.ok()) names = *std::move(n);
              std::string waits;
              for (const auto& m : Missing(t, names)) waits += (waits.empty() ? "" : "; ") + m;
              return FailedPrecondition("the task cannot run yet: " + waits,
                                        t.state == tasks::TASK_STATE_CREATED
                                            ? reason::kInputsMissing
                                            : reason::kApprovalsMissing);
            }
            case tasks::TASK_STATE_APPROVED: break;
            case tasks::TASK_STATE_QUEUED:
              ch.noop = true;  // invoked already
              return OkStatus();
            default: return RefuseByState(t, "invoking it");
          }
          // The settled state says so, but this is the gate to running:
          // check every participant's approval of this very digest again.
          if (t.digest != TaskDigest(t) || Settled(t) != tasks::TASK_STATE_APPROVED)
            return FailedPrecondition("the task's approvals do not cover its current content",
                                      reason::kApprovalsMissing);
          CLOISTER_ASSIGN_OR_RETURN(auto fn, store_->GetVersion(t.function_id, t.function_hash));
          if (!fn) return NotFound("the task's function version is gone", reason::kFunctionNotFound);
          if (fn->disabled)
            return FailedPrecondition("the function version was disabled by its owner",
                                      reason::kFunctionDisabled);
          t.state = tasks::TASK_STATE_QUEUED;
          t.queue_seq = Now();
          t.not_before_ms = 0;
          ch.event = "invoked";
          return OkStatus();
        }));
    tasks::InvokeTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::CancelTaskResponse> TasksCore::CancelTask(const Caller& c,
                                                        const tasks::CancelTaskRequest& r) {
  return Call<tasks::CancelTaskResponse>(c, "CancelTask", true, [&](Trace& tr)
                                             -> Result<tasks::CancelTaskResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    tr.resource = r.task_id();
    CLOISTER_RETURN_IF_ERROR(CheckText("reason", r.reason(), kMaxNoteBytes));
    CLOISTER_ASSIGN_OR_RETURN(
        TaskRow t, Transition(c.user_id(), r.task_id(), true, [&](TaskRow& t, Change& ch) -> Status {
          if (IsFinal(t.state)) return RefuseByState(t, "canceling it");
          // A running task's worker finds out at its next heartbeat or when
          // it completes (TASK_CANCELED): its result is never recorded.
          t.state = tasks::TASK_STATE_CANCELED;
          t.end_reason = reason::kEndCanceled;
          t.end_message = r.reason();
          t.end_by = c.user_id();
          ClearLease(t);
          ch.event = "canceled";
          ch.detail = r.reason();
          return OkStatus();
        }));
    tasks::CancelTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

}  // namespace cloister::tasks_service
