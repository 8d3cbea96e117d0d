// The rows cloister-tasks keeps (functions, versions, tasks, events) as plain
// C++ values: the store reads and writes them, the core transforms them,
// and only the service layer turns them into proto messages.
//
//   TaskRow t = *std::move(loaded);
//   t.inputs.at("set.bob").file_id = file_id;   // then the core re-settles the state
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "functions/runtime.h"
#include "proto/tasks.pb.h"

namespace cloister::tasks_service {

using tasks::FunctionKind;
using tasks::TaskState;
using ArgMap = std::map<std::string, functions::ArgValue, std::less<>>;

// One immutable function version; `disabled` is its only mutable bit.
struct FunctionRow {
  std::string function_id;
  std::string hash;             // hex SHA-256 (canonical.h FunctionHash)
  int64_t version = 0;          // 1, 2, … within the function
  std::string owner;
  FunctionKind kind = tasks::FUNCTION_KIND_UNSPECIFIED;
  std::string builtin_name;
  std::string source;           // Lua source; the registry name for a built-in
  int64_t source_size = 0;      // bytes of the stored source (known without loading it)
  tasks::FunctionSpec spec;     // normalized (spec_rules.h)
  std::string description;
  bool is_public = false;
  std::set<std::string> allowed;  // private: who besides the owner may use it
  bool disabled = false;
  int64_t created_ms = 0;
  int64_t function_seq = 0;     // the function's listing order (shared by its versions)
};

struct InputRow {
  std::string slot;
  std::string owner;
  std::string file_id;          // "" until assigned
  Bytes sha256;                 // the file's ciphertext SHA-256 at assignment
};

struct OutputRow {
  std::string slot;
  std::set<std::string> owners;
  // Set when the task succeeded: owner → the file stored for that owner
  // (each owner of a slot has its own copy under its own key).
  std::map<std::string, std::string, std::less<>> file_ids;
};

struct ApprovalRow {
  std::string user_id;
  std::string digest;
  int64_t at_ms = 0;
};

struct TaskRow {
  std::string task_id;
  std::string creator;
  std::string function_id;
  std::string function_hash;
  std::string description;
  ArgMap args;                                  // typed, defaults filled in
  std::map<std::string, InputRow, std::less<>> inputs;    // by slot
  std::map<std::string, OutputRow, std::less<>> outputs;  // by slot
  std::map<std::string, ApprovalRow, std::less<>> approvals;  // by user
  std::set<std::string, std::less<>> participants;
  TaskState state = tasks::TASK_STATE_CREATED;
  int64_t version = 0;          // +1 on every committed change
  std::string digest;           // hex (canonical.h TaskDigest)
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t seq = 0;              // listing order; set by the store at insert
  // The queue.
  int64_t queue_seq = 0;        // order among queued tasks: when it was invoked (ms)
  int64_t not_before_ms = 0;    // a retry's backoff: not claimable before
  int64_t attempts = 0;         // claims so far
  int64_t lease_token = 0;      // fencing token of the current/last lease; grows per claim
  std::string lease_worker;
  int64_t lease_expires_ms = 0;
  // How it ended (Failed, Canceled, Rejected).
  std::string end_reason;
  std::string end_message;
  std::string end_by;
};

struct EventRow {
  int64_t seq = 0;              // set by the store: 1, 2, … within the task
  int64_t at_ms = 0;
  std::string actor;
  std::string event;
  TaskState from = tasks::TASK_STATE_UNSPECIFIED;
  TaskState to = tasks::TASK_STATE_UNSPECIFIED;
  int64_t version = 0;
  std::string digest;
  std::string detail;
};

inline bool IsFinal(TaskState s) {
  return s == tasks::TASK_STATE_SUCCEEDED || s == tasks::TASK_STATE_FAILED ||
         s == tasks::TASK_STATE_CANCELED || s == tasks::TASK_STATE_REJECTED;
}
// Created, DataAssigned, Approved: the task may still change.
inline bool IsBeforeQueue(TaskState s) {
  return s == tasks::TASK_STATE_CREATED || s == tasks::TASK_STATE_DATA_ASSIGNED ||
         s == tasks::TASK_STATE_APPROVED;
}

}  // namespace cloister::tasks_service
