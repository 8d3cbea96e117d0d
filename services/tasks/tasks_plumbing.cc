// cloister-tasks' core plumbing: the worker identity, opening and building
// the core, the audit of every call, user checks and username notes, the
// change notification the long poll waits on, and the health counters; see
// tasks_core.h.
#include "services/tasks/tasks_core.h"

#include <chrono>

#include "common/logging.h"

namespace cloister::tasks_service {
namespace {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

void TasksCore::SetBeforeCommitForTesting(std::function<void()> hook) {
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

}  // namespace cloister::tasks_service
