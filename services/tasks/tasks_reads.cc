// cloister-tasks' reads of tasks: a task as its viewer sees it (and what it
// still waits for), GetTask, ListTasks, the WaitTask long poll and the
// participants' event log; see tasks_core.h.
#include "services/tasks/tasks_core.h"

#include <chrono>

#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {

std::string Display(const std::map<std::string, std::string>& names, const std::string& id) {
  auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

}  // namespace

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
