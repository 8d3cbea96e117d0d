// TaskStore: cloister-tasks' state in the storage/ engine (SQLite by
// default): function versions and their allowlists, tasks with their
// arguments, slots, approvals and participants, and each task's events.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto store, TaskStore::Open("sqlite:///data/tasks.db"));
//   CLOISTER_ASSIGN_OR_RETURN(auto t, store->LoadTask(id));          // a snapshot
//   TaskRow next = *t; next.state = tasks::TASK_STATE_QUEUED; next.version++;
//   CLOISTER_RETURN_IF_ERROR(store->CommitTask(next, t->version, t->state, event));
//
// Every task change is ONE transaction: an UPDATE guarded by the task id,
// the version the change was computed from and the state it expects (0 rows:
// Aborted [TASK_CHANGED], nothing written), the child rows rewritten, and
// the event appended. So two changes computed from the same snapshot never
// both commit, and no reader ever sees half a change. Thread-safe (the
// engine serializes transactions).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "services/tasks/task_model.h"
#include "storage/engine.h"

namespace cloister::tasks_service {

class TaskStore {
 public:
  // Opens the engine at `url` and applies kTasksMigrations.
  static Result<std::unique_ptr<TaskStore>> Open(std::string_view url);
  explicit TaskStore(std::unique_ptr<storage::Engine> db) : db_(std::move(db)) {}

  // ---- functions ----
  struct Registered {
    FunctionRow row;
    bool created = false;  // false: the function already had this hash
  };
  // In one transaction: creates the function (new_function) or adds the
  // next version to it; if the function already has a version with
  // row.hash, returns that version instead (versions are immutable).
  // Sets version and function_seq. NotFound [FUNCTION_NOT_FOUND] if
  // !new_function and the function is absent.
  Result<Registered> RegisterVersion(FunctionRow row, bool new_function);
  // One version (with its source if asked); nullopt when absent.
  Result<std::optional<FunctionRow>> GetVersion(std::string_view function_id,
                                                std::string_view hash, bool with_source = false);
  // Every version with this hash (any function), without source.
  Result<std::vector<FunctionRow>> VersionsByHash(std::string_view hash);
  // A function's versions, oldest first, without source.
  Result<std::vector<FunctionRow>> Versions(std::string_view function_id);
  // Per function (function_seq < before_seq, or all when 0; newest first,
  // at most `limit`): its latest version `user` may use (public, own or
  // allowlisted; not disabled unless include_disabled), without source.
  Result<std::vector<FunctionRow>> ListUsable(std::string_view user, bool mine_only,
                                              bool include_disabled, int64_t before_seq,
                                              size_t limit);
  // Disables one version (hash) or all; how many were not disabled yet.
  Result<int64_t> Disable(std::string_view function_id, std::string_view hash);

  // ---- tasks ----
  // Inserts a new task (version 1) with its first event; sets t.seq.
  Status InsertTask(TaskRow& t, EventRow ev);
  // A snapshot of one task; nullopt when absent.
  Result<std::optional<TaskRow>> LoadTask(std::string_view task_id);
  // The guarded change described in the file comment. `t.version` must be
  // expected_version + 1.
  Status CommitTask(const TaskRow& t, int64_t expected_version, TaskState expected_state,
                    EventRow ev);
  // Tasks `user` participates in, newest first (seq < before_seq; 0: from
  // the newest), in `state` (UNSPECIFIED: any), at most `limit`.
  Result<std::vector<TaskRow>> ListTasksFor(std::string_view user, TaskState state,
                                            int64_t before_seq, size_t limit);
  // A task's events with seq > after_seq, oldest first, at most `limit`.
  Result<std::vector<EventRow>> Events(std::string_view task_id, int64_t after_seq, size_t limit);

  // ---- the queue ----
  // Queued tasks claimable at now_ms (backoff passed), oldest first.
  Result<std::vector<std::string>> ClaimCandidates(int64_t now_ms, size_t limit);
  // A heartbeat: moves the lease's expiry to expires_ms in one guarded
  // UPDATE (the task Running under `token`, its lease not yet expired at
  // now_ms). Not a state change, so neither the version nor the events
  // move. False when the guard failed (the lease is lost).
  Result<bool> ExtendLease(std::string_view task_id, int64_t token, int64_t now_ms,
                           int64_t expires_ms);
  // Running tasks whose lease expired at now_ms.
  Result<std::vector<std::string>> ExpiredLeases(int64_t now_ms, size_t limit);
  Result<std::map<TaskState, int64_t>> CountByState();

  // ---- usernames (for the `missing` texts) ----
  Status NoteUser(std::string_view user_id, std::string_view username);
  Result<std::map<std::string, std::string>> Usernames(const std::set<std::string, std::less<>>& ids);

 private:
  std::unique_ptr<storage::Engine> db_;
};

}  // namespace cloister::tasks_service
