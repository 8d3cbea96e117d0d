// cloister-tasks' schema, as versioned storage/ migrations. Applied
// migrations are checksummed by the engine: never edit one, add the next.
#pragma once

#include <array>

#include "storage/engine.h"

namespace cloister::tasks_service {

// functions: one row per registered function; seq orders listings.
// function_versions: immutable versions (only `disabled` ever changes);
//   `spec` is the normalized FunctionSpec proto, `hash` the canonical hash
//   (unique within a function: registering the same content twice returns
//   the stored version). function_allow: a private version's allowlist.
// tasks: one row per task. Every change is one UPDATE guarded by
//   (task_id, version, state): the version grows by one per change. The
//   child tables (args, inputs, outputs, approvals, participants) are
//   rewritten in that same transaction. queue_seq orders the queue,
//   lease_token is the fencing token (grows with every claim).
// task_events: every transition, the participants' audit trail of a task.
// users_seen: usernames learned from proven callers, for `missing` texts.
inline constexpr std::array<storage::Migration, 1> kTasksMigrations = {{
    {1, "tasks: functions, versions, tasks, events", R"sql(
CREATE TABLE functions (
  function_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL UNIQUE
);
CREATE INDEX functions_by_owner ON functions(owner, seq);
CREATE TABLE function_versions (
  function_id TEXT NOT NULL REFERENCES functions(function_id),
  version INTEGER NOT NULL CHECK (version >= 1),
  hash TEXT NOT NULL,
  kind INTEGER NOT NULL,
  builtin_name TEXT NOT NULL,
  source BLOB NOT NULL,
  spec BLOB NOT NULL,
  description TEXT NOT NULL,
  is_public INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (function_id, version),
  UNIQUE (function_id, hash)
);
CREATE INDEX function_versions_by_hash ON function_versions(hash);
CREATE TABLE function_allow (
  function_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (function_id, version, user_id)
);
CREATE TABLE tasks (
  task_id TEXT PRIMARY KEY,
  creator TEXT NOT NULL,
  function_id TEXT NOT NULL,
  function_hash TEXT NOT NULL,
  description TEXT NOT NULL,
  state INTEGER NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  digest TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL UNIQUE,
  queue_seq INTEGER NOT NULL DEFAULT 0,
  not_before_ms INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_token INTEGER NOT NULL DEFAULT 0,
  lease_worker TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  end_reason TEXT NOT NULL DEFAULT '',
  end_message TEXT NOT NULL DEFAULT '',
  end_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tasks_queue ON tasks(state, queue_seq);
CREATE TABLE task_args (
  task_id TEXT NOT NULL,
  name TEXT NOT NULL,
  type INTEGER NOT NULL,
  v,
  PRIMARY KEY (task_id, name)
);
CREATE TABLE task_inputs (
  task_id TEXT NOT NULL,
  slot TEXT NOT NULL,
  owner TEXT NOT NULL,
  file_id TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  PRIMARY KEY (task_id, slot)
);
CREATE TABLE task_outputs (
  task_id TEXT NOT NULL,
  slot TEXT NOT NULL,
  owner TEXT NOT NULL,
  file_id TEXT NOT NULL,
  PRIMARY KEY (task_id, slot, owner)
);
CREATE TABLE task_approvals (
  task_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (task_id, user_id)
);
CREATE TABLE task_participants (
  task_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  task_seq INTEGER NOT NULL,
  PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_participants_by_user ON task_participants(user_id, task_seq);
CREATE TABLE task_events (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  from_state INTEGER NOT NULL,
  to_state INTEGER NOT NULL,
  version INTEGER NOT NULL,
  digest TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
);
CREATE TABLE users_seen (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL
);
)sql"},
}};

}  // namespace cloister::tasks_service
