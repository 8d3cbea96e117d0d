// cloister-tasks' task lifecycle: creation, changes, assignments, approvals,
// rejection, revocation, invocation, cancellation, reads and the long poll;
// see tasks_core.h (functions: tasks_functions.cc, queue: tasks_queue.cc).
#include "services/tasks/tasks_core.h"

#include <chrono>

#include "common/crypto/random.h"
#include "common/logging.h"
#include "services/tasks/canonical.h"
#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

std::string Display(const std::map<std::string, std::string>& names, const std::string& id) {
  auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

void ClearLease(TaskRow& t) {
  t.lease_worker.clear();
  t.lease_expires_ms = 0;
}

}  // namespace

// ---- Worker ----

Result<Worker> Worker::FromCaller(const Caller& c) {
  // Only the grant verifier builds a service Caller, from the attested
  // peer's role: a user whose id reads "service:exec" is still a user.
  if (!c.is_service() || c.user_id() != kWorkerPrincipal)
    return PermissionDenied("only the execution service (exec) may pull tasks",
                            reason::kWorkerOnly);
  return Worker(c.user_id());
}

// ---- construction and plumbing ----

Result<std::unique_ptr<TasksCore>> TasksCore::Open(std::string_view db_url, FileLookup files,
                                                   services::AuditLog* audit, TasksOptions options,
                                                   std::function<int64_t()> clock_ms) {
  CLOISTER_ASSIGN_OR_RETURN(auto store, TaskStore::Open(db_url));
  return std::make_unique<TasksCore>(std::move(store), std::move(files), audit, options,
                                     std::move(clock_ms));
}

TasksCore::TasksCore(std::unique_ptr<TaskStore> store, FileLookup files, services::AuditLog* audit,
                     TasksOptions options, std::function<int64_t()> clock_ms)
    : store_(std::move(store)),
      files_(std::move(files)),
      audit_(audit),
      options_(options),
      clock_(clock_ms ? std::move(clock_ms) : WallClockMs) {
  options_.lease_ms = std::max<int64_t>(options_.lease_ms, 1);
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.backoff_ms = std::max<int64_t>(options_.backoff_ms, 0);
  options_.max_backoff_ms = std::max(options_.max_backoff_ms, options_.backoff_ms);
  options_.max_wait_ms = std::max<uint32_t>(options_.max_wait_ms, 1);
  options_.default_wait_ms = std::min(options_.default_wait_ms, options_.max_wait_ms);
}

Status TasksCore::Audit(std::string_view principal, std::string_view op, const Status& outcome,
                        std::string_view request_id, std::string_view resource) {
  if (audit_ == nullptr) return OkStatus();
  services::AuditEntry e;
  e.principal = std::string(principal);
  e.method = "tasks." + std::string(op);
  e.decision = outcome.ok() ? "allow" : "deny";
  if (!outcome.ok())
    e.reason = outcome.error().reason().empty() ? std::string(CodeName(outcome.code()))
                                                : outcome.error().reason();
  e.request_id = std::string(request_id);
  if (!resource.empty()) e.resources.push_back(std::string(resource));  // HMAC'd by the log
  if (Status st = audit_->Append(e); !st.ok()) {
    LOG_ERROR("tasks audit append failed; refusing the result", {{"error", st.ToString()}});
    return Unavailable("audit log unavailable", reason::kAuditUnavailable);
  }
  return OkStatus();
}

Status TasksCore::CheckUser(const Caller& c) {
  // Tasks, approvals and functions belong to users; a service has no say.
  if (c.kind() != Caller::Kind::kUser || c.user_id().empty())
    return Unauthenticated("task operations need an authenticated user",
                           reason::kUnauthenticated);
  return OkStatus();
}

void TasksCore::NoteUser(const Caller& c) {
  if (c.username().empty() || c.username() == c.user_id()) return;
  {
    std::lock_guard lock(mu_);
    auto it = usernames_.find(c.user_id());
    if (it != usernames_.end() && it->second == c.username()) return;
    usernames_[c.user_id()] = c.username();
  }
  // Only for `missing` texts: a failure costs a user id shown instead of a name.
  if (Status st = store_->NoteUser(c.user_id(), c.username()); !st.ok())
    LOG_WARN("tasks: cannot record a username", {{"error", st.ToString()}});
}

void TasksCore::Notify() {
  {
    std::lock_guard lock(mu_);
    generation_++;
  }
  changed_cv_.notify_all();
}

void TasksCore::SetBeforeCommitForTest(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  before_commit_ = std::move(hook);
}

std::map<std::string, uint64_t> TasksCore::Counters() {
  std::map<std::string, uint64_t> out = {{"transitions", transitions_.load()},
                                         {"refusals", refusals_.load()},
                                         {"claims", claims_.load()},
                                         {"leases_expired", leases_expired_.load()},
                                         {"requeued", requeued_.load()},
                                         {"succeeded", succeeded_.load()},
                                         {"failed", failed_.load()}};
  if (auto counts = store_->CountByState(); counts.ok()) {
    out["queued"] = static_cast<uint64_t>((*counts)[tasks::TASK_STATE_QUEUED]);
    out["running"] = static_cast<uint64_t>((*counts)[tasks::TASK_STATE_RUNNING]);
  }
  return out;
}

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

// ---- binding a task to a function ----

Status TasksCore::BindArgs(const FunctionRow& fn,
                           const google::protobuf::Map<std::string, api::ArgumentValue>& args,
                           TaskRow& t) {
  std::map<std::string, functions::ArgValue> raw;
  size_t string_bytes = 0;
  for (const auto& [name, value] : args) {
    const std::string field = "args[" + name.substr(0, kMaxNameBytes) + "]";
    if (!IsName(name))
      return InvalidArgument(field + ": an argument name is 1..64 of [A-Za-z0-9_-]",
                             reason::kArgsInvalid);
    CLOISTER_ASSIGN_OR_RETURN(functions::ArgValue v, ArgFromProto(field, value));
    if (const auto* s = std::get_if<std::string>(&v)) {
      if (s->size() > kMaxArgStringBytes)
        return InvalidArgument(field + " is longer than 64 KiB", reason::kArgsInvalid);
      string_bytes += s->size();
    }
    raw.emplace(name, std::move(v));
  }
  if (string_bytes > kMaxArgsBytes)
    return InvalidArgument("args: string arguments total more than 1 MiB", reason::kArgsInvalid);
  auto typed = functions::Args::FromValues(SpecFromProto(fn.spec), raw);
  if (!typed.ok()) return InvalidArgument("args: " + typed.error().message(), reason::kArgsInvalid);
  t.args.clear();
  for (const auto& [name, v] : typed->values()) t.args.emplace(name, v);
  return OkStatus();
}

namespace {

// The slot rules of functions/runtime.cc (Runtime::CheckInputs), for the
// names a task binds: each matches a slot of the spec, every required slot
// is bound, a variadic one min_count..max_count times.
template <typename Map>
Status CheckBindings(const std::string& what, const tasks::FunctionSpec& spec,
                     const google::protobuf::RepeatedPtrField<tasks::SlotSpec>& slots,
                     const Map& bound) {
  if (bound.size() > kMaxTaskSlots)
    return InvalidArgument(what + ": at most " + std::to_string(kMaxTaskSlots) + " slots",
                           reason::kSlotsInvalid);
  const functions::FunctionSpec fs = SpecFromProto(spec);
  const auto& fslots = what == "inputs" ? fs.inputs : fs.outputs;
  std::map<std::string, int> counts;
  for (const auto& [name, unused] : bound) {
    CLOISTER_RETURN_IF_ERROR(CheckSlotName(what + "[" + name.substr(0, 130) + "]", name));
    const functions::SlotSpec* s = functions::MatchSlot(fslots, name);
    if (s == nullptr)
      return InvalidArgument(what + "[" + name + "]: function '" + spec.name() + "' has no " +
                                 (what == "inputs" ? "input" : "output") + " slot '" + name + "'",
                             reason::kSlotsInvalid);
    counts[s->name]++;
  }
  for (const auto& s : slots) {
    const int n = counts[s.name()];
    if (n == 0 && !s.optional())
      return InvalidArgument(what + ": function '" + spec.name() + "' needs slot '" + s.name() +
                                 (s.variadic() ? ".<party>'" : "'") + " bound to its owner",
                             reason::kSlotsInvalid);
    if (s.variadic() && n > 0 && (n < s.min_count() || n > s.max_count()))
      return InvalidArgument(what + ": function '" + spec.name() + "' takes " +
                                 std::to_string(s.min_count()) + ".." +
                                 std::to_string(s.max_count()) + " slots '" + s.name() +
                                 ".<party>', got " + std::to_string(n),
                             reason::kSlotsInvalid);
  }
  return OkStatus();
}

}  // namespace

Status TasksCore::BindSlots(const FunctionRow& fn,
                            const google::protobuf::Map<std::string, std::string>& in,
                            const google::protobuf::Map<std::string, tasks::SlotOwners>& out,
                            TaskRow& t) {
  CLOISTER_RETURN_IF_ERROR(CheckBindings("inputs", fn.spec, fn.spec.inputs(), in));
  CLOISTER_RETURN_IF_ERROR(CheckBindings("outputs", fn.spec, fn.spec.outputs(), out));
  std::map<std::string, InputRow, std::less<>> inputs;
  for (const auto& [slot, owner] : in) {
    CLOISTER_RETURN_IF_ERROR(CheckUserId("inputs[" + slot + "]", owner));
    InputRow row{slot, owner, "", {}};
    // Keep a file its (unchanged) owner already assigned; a new owner starts empty.
    if (auto it = t.inputs.find(slot); it != t.inputs.end() && it->second.owner == owner) row = it->second;
    inputs.emplace(slot, std::move(row));
  }
  std::map<std::string, OutputRow, std::less<>> outputs;
  for (const auto& [slot, owners] : out) {
    if (owners.user_ids_size() == 0 || static_cast<size_t>(owners.user_ids_size()) > kMaxSlotOwners)
      return InvalidArgument("outputs[" + slot + "]: 1.." + std::to_string(kMaxSlotOwners) +
                                 " owners",
                             reason::kSlotsInvalid);
    OutputRow row{slot, {}, {}};
    for (int i = 0; i < owners.user_ids_size(); ++i) {
      CLOISTER_RETURN_IF_ERROR(CheckUserId(
          "outputs[" + slot + "].user_ids[" + std::to_string(i) + "]", owners.user_ids(i)));
      row.owners.insert(owners.user_ids(i));
    }
    outputs.emplace(slot, std::move(row));
  }
  t.inputs = std::move(inputs);
  t.outputs = std::move(outputs);
  return OkStatus();
}

void TasksCore::SetParticipants(const FunctionRow& fn, TaskRow& t) const {
  t.participants.clear();
  t.participants.insert(t.creator);
  for (const auto& [slot, in] : t.inputs) t.participants.insert(in.owner);
  for (const auto& [slot, out] : t.outputs) t.participants.insert(out.owners.begin(), out.owners.end());
  // A private function's owner vouches for every use of it.
  if (!fn.is_public) t.participants.insert(fn.owner);
}

// ---- the views ----

std::vector<std::string> TasksCore::Missing(const TaskRow& t,
                                            const std::map<std::string, std::string>& names) const {
  std::vector<std::string> out;
  switch (t.state) {
    case tasks::TASK_STATE_CREATED:
      for (const auto& [slot, in] : t.inputs)
        if (in.file_id.empty())
          out.push_back("waiting for " + Display(names, in.owner) + " to assign slot `" + slot + "`");
      break;
    case tasks::TASK_STATE_DATA_ASSIGNED:
      for (const auto& p : t.participants) {
        auto it = t.approvals.find(p);
        if (it == t.approvals.end() || it->second.digest != t.digest)
          out.push_back("waiting for approval from " + Display(names, p));
      }
      break;
    case tasks::TASK_STATE_APPROVED:
      out.push_back("waiting for a participant to invoke the task");
      break;
    case tasks::TASK_STATE_QUEUED:
      if (t.not_before_ms > Now())
        out.push_back("waiting to retry (attempt " + std::to_string(t.attempts + 1) + " of " +
                      std::to_string(options_.max_attempts) + ") after a backoff");
      else
        out.push_back("waiting for a worker to run it");
      break;
    default: break;
  }
  return out;
}

tasks::Task TasksCore::ToProto(const TaskRow& t, std::string_view viewer) {
  tasks::Task p;
  p.set_task_id(t.task_id);
  p.set_creator_user_id(t.creator);
  p.set_function_id(t.function_id);
  p.set_function_hash(t.function_hash);
  if (auto fn = store_->GetVersion(t.function_id, t.function_hash); fn.ok() && fn->has_value())
    p.set_function_name((*fn)->spec.name());
  for (const auto& [name, v] : t.args) (*p.mutable_args())[name] = ArgToProto(v);
  for (const auto& [slot, in] : t.inputs) {
    auto* pi = p.add_inputs();
    pi->set_slot(slot);
    pi->set_owner_user_id(in.owner);
    pi->set_file_id(in.file_id);
    pi->set_ciphertext_sha256(std::string(AsChars(in.sha256)));
  }
  for (const auto& [slot, out] : t.outputs) {
    auto* po = p.add_outputs();
    po->set_slot(slot);
    for (const auto& o : out.owners) po->add_owner_user_ids(o);
    // Each owner sees only its own copy: the others' are theirs.
    if (auto it = out.file_ids.find(viewer); it != out.file_ids.end()) {
      auto* f = po->add_files();
      f->set_owner_user_id(it->first);
      f->set_file_id(it->second);
    }
  }
  for (const auto& u : t.participants) p.add_participants(u);
  for (const auto& [user, a] : t.approvals) {
    auto* pa = p.add_approvals();
    pa->set_user_id(user);
    pa->set_digest(a.digest);
    pa->set_approved_unix_ms(a.at_ms);
  }
  p.set_state(t.state);
  p.set_version(static_cast<uint64_t>(t.version));
  p.set_digest(t.digest);
  std::map<std::string, std::string> names;
  if (auto n = store_->Usernames(t.participants); n.ok()) names = *std::move(n);
  for (auto& m : Missing(t, names)) p.add_missing(std::move(m));
  p.set_description(t.description);
  p.set_created_unix_ms(t.created_ms);
  p.set_updated_unix_ms(t.updated_ms);
  p.set_attempts(static_cast<uint32_t>(t.attempts));
  if (!t.end_reason.empty()) {
    p.mutable_end()->set_reason(t.end_reason);
    p.mutable_end()->set_message(t.end_message);
    p.mutable_end()->set_by_user_id(t.end_by);
  }
  return p;
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

Result<tasks::GetTaskResponse> TasksCore::GetTask(const Caller& c, const tasks::GetTaskRequest& r) {
  return Call<tasks::GetTaskResponse>(c, "GetTask", false, [&](Trace& tr)
                                          -> Result<tasks::GetTaskResponse> {
    tr.resource = r.task_id();
    CLOISTER_ASSIGN_OR_RETURN(TaskRow t, LoadVisible(c.user_id(), r.task_id()));
    tasks::GetTaskResponse resp;
    *resp.mutable_task() = ToProto(t, c.user_id());
    return resp;
  });
}

Result<tasks::ListTasksResponse> TasksCore::ListTasks(const Caller& c,
                                                      const tasks::ListTasksRequest& r) {
  return Call<tasks::ListTasksResponse>(c, "ListTasks", false, [&](Trace&)
                                            -> Result<tasks::ListTasksResponse> {
    if (!tasks::TaskState_IsValid(r.state()))
      return InvalidArgument("state is not a task state", reason::kStateInvalid);
    CLOISTER_ASSIGN_OR_RETURN(int64_t before, DecodePageToken(r.page_token()));
    const uint32_t page = PageSize(r.page_size());
    CLOISTER_ASSIGN_OR_RETURN(auto rows, store_->ListTasksFor(c.user_id(), r.state(), before, page + 1));
    tasks::ListTasksResponse resp;
    const bool more = rows.size() > page;
    if (more) rows.resize(page);
    for (const TaskRow& t : rows) *resp.add_tasks() = ToProto(t, c.user_id());
    if (more) resp.set_next_page_token(EncodePageToken(rows.back().seq));
    return resp;
  });
}

Result<tasks::WaitTaskResponse> TasksCore::WaitTask(const Caller& c, const tasks::WaitTaskRequest& r,
                                                    const std::function<bool()>& cancelled) {
  return Call<tasks::WaitTaskResponse>(c, "WaitTask", false, [&](Trace& tr)
                                           -> Result<tasks::WaitTaskResponse> {
    tr.resource = r.task_id();
    CLOISTER_RETURN_IF_ERROR(CheckTaskId(r.task_id()));
    if (r.timeout_ms() > options_.max_wait_ms)
      return InvalidArgument("timeout_ms is at most " + std::to_string(options_.max_wait_ms),
                             reason::kTimeoutInvalid);
    const uint32_t timeout = r.timeout_ms() == 0 ? options_.default_wait_ms : r.timeout_ms();
    if (waiters_.fetch_add(1) >= options_.max_waiters) {
      waiters_--;
      return ResourceExhausted("too many tasks are being waited on; poll later",
                               reason::kWaitersExhausted);
    }
    struct Release {
      std::atomic<size_t>& n;
      ~Release() { n--; }
    } release{waiters_};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    for (;;) {
      uint64_t seen = 0;
      {
        std::lock_guard lock(mu_);
        seen = generation_;
      }
      CLOISTER_ASSIGN_OR_RETURN(TaskRow t, LoadVisible(c.user_id(), r.task_id()));
      const bool changed = static_cast<uint64_t>(t.version) > r.after_version();
      const auto now = std::chrono::steady_clock::now();
      // A task that ended never changes again: no point in waiting.
      if (changed || IsFinal(t.state) || now >= deadline || (cancelled && cancelled())) {
        tasks::WaitTaskResponse resp;
        *resp.mutable_task() = ToProto(t, c.user_id());
        resp.set_changed(changed);
        return resp;
      }
      // Wake on any commit, and at least twice a second to notice a gone client.
      std::unique_lock lock(mu_);
      changed_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(500)),
                             [&] { return generation_ != seen; });
    }
  });
}

Result<tasks::GetTaskLogResponse> TasksCore::GetTaskLog(const Caller& c,
                                                        const tasks::GetTaskLogRequest& r) {
  return Call<tasks::GetTaskLogResponse>(c, "GetTaskLog", false, [&](Trace& tr)
                                             -> Result<tasks::GetTaskLogResponse> {
    tr.resource = r.task_id();
    CLOISTER_ASSIGN_OR_RETURN(int64_t after, DecodePageToken(r.page_token()));
    // A participant reads its own tasks' trails, never another task's.
    CLOISTER_ASSIGN_OR_RETURN(TaskRow t, LoadVisible(c.user_id(), r.task_id()));
    const uint32_t page = PageSize(r.page_size());
    CLOISTER_ASSIGN_OR_RETURN(auto events, store_->Events(t.task_id, after, page + 1));
    tasks::GetTaskLogResponse resp;
    const bool more = events.size() > page;
    if (more) events.resize(page);
    for (const EventRow& e : events) {
      auto* pe = resp.add_events();
      pe->set_seq(static_cast<uint64_t>(e.seq));
      pe->set_at_unix_ms(e.at_ms);
      pe->set_actor(e.actor);
      pe->set_event(e.event);
      pe->set_from_state(e.from);
      pe->set_to_state(e.to);
      pe->set_version(static_cast<uint64_t>(e.version));
      pe->set_digest(e.digest);
      pe->set_detail(e.detail);
    }
    if (more) resp.set_next_page_token(EncodePageToken(events.back().seq));
    return resp;
  });
}

}  // namespace cloister::tasks_service
