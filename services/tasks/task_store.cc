// cloister-tasks' state in SQL; see task_store.h.
#include "services/tasks/task_store.h"

#include "services/tasks/migrations/tasks_migrations.h"
#include "services/tasks/tasks_reasons.h"

namespace cloister::tasks_service {
namespace {

// The file stored for `owner` ("" before the task succeeded).
std::string FileIdOf(const OutputRow& out, const std::string& owner) {
  auto it = out.file_ids.find(owner);
  return it == out.file_ids.end() ? std::string() : it->second;
}


using storage::Value;

// A stored spec is our own serialization, but it is still parsed with a bound.
constexpr size_t kMaxStoredSpecBytes = 4u << 20;

constexpr std::string_view kVersionColumns =
    "v.function_id, v.version, v.hash, f.owner, v.kind, v.builtin_name, v.spec, v.description, "
    "v.is_public, v.disabled, v.created_ms, f.seq, LENGTH(v.source)";
constexpr std::string_view kTaskColumns =
    "task_id, creator, function_id, function_hash, description, state, version, digest, "
    "created_ms, updated_ms, seq, queue_seq, not_before_ms, attempts, lease_token, "
    "lease_worker, lease_expires_ms, end_reason, end_message, end_by";
constexpr std::string_view kEventColumns =
    "seq, at_ms, actor, event, from_state, to_state, version, digest, detail";

// "a, b" → "t.a, t.b": the columns of a joined table.
std::string Prefixed(std::string_view columns, std::string_view prefix) {
  std::string out;
  size_t start = 0;
  while (start < columns.size()) {
    size_t end = columns.find(',', start);
    if (end == std::string_view::npos) end = columns.size();
    std::string_view col = columns.substr(start, end - start);
    while (!col.empty() && col.front() == ' ') col.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out += std::string(prefix) + std::string(col);
    start = end + 1;
  }
  return out;
}

Error Inconsistent(std::string_view what) {
  return DataLoss("task store row out of range: " + std::string(what),
                  reason::kStoreInconsistent);
}

Error TaskChanged() {
  return Aborted("the task changed since it was read; read it again and retry",
                 reason::kTaskChanged);
}

Result<TaskState> StateOf(int64_t v) {
  if (!tasks::TaskState_IsValid(static_cast<int>(v)) || v == tasks::TASK_STATE_UNSPECIFIED)
    return Inconsistent("task state");
  return static_cast<TaskState>(v);
}

Result<FunctionRow> RowToVersion(const storage::Row& row) {
  FunctionRow f;
  CLOISTER_ASSIGN_OR_RETURN(f.function_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(f.version, row.GetInt(1));
  CLOISTER_ASSIGN_OR_RETURN(f.hash, row.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(f.owner, row.GetText(3));
  CLOISTER_ASSIGN_OR_RETURN(int64_t kind, row.GetInt(4));
  if (kind != tasks::FUNCTION_KIND_BUILTIN && kind != tasks::FUNCTION_KIND_LUA)
    return Inconsistent("function kind");
  f.kind = static_cast<FunctionKind>(kind);
  CLOISTER_ASSIGN_OR_RETURN(f.builtin_name, row.GetText(5));
  CLOISTER_ASSIGN_OR_RETURN(Bytes spec, row.GetBlob(6));
  if (spec.size() > kMaxStoredSpecBytes || !f.spec.ParseFromArray(spec.data(), static_cast<int>(spec.size())))
    return Inconsistent("function spec");
  CLOISTER_ASSIGN_OR_RETURN(f.description, row.GetText(7));
  CLOISTER_ASSIGN_OR_RETURN(int64_t pub, row.GetInt(8));
  f.is_public = pub != 0;
  CLOISTER_ASSIGN_OR_RETURN(int64_t disabled, row.GetInt(9));
  f.disabled = disabled != 0;
  CLOISTER_ASSIGN_OR_RETURN(f.created_ms, row.GetInt(10));
  CLOISTER_ASSIGN_OR_RETURN(f.function_seq, row.GetInt(11));
  CLOISTER_ASSIGN_OR_RETURN(f.source_size, row.GetInt(12));
  return f;
}

Status LoadAllowlist(storage::Executor& ex, FunctionRow& f) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT user_id FROM function_allow WHERE function_id = ? AND version = ?",
                          {f.function_id, f.version}));
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(std::string u, r.GetText(0));
    f.allowed.insert(std::move(u));
  }
  return OkStatus();
}

Result<std::vector<FunctionRow>> QueryVersions(storage::Executor& ex, std::string_view where,
                                               storage::Params params) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT " + std::string(kVersionColumns) +
                              " FROM function_versions v JOIN functions f ON f.function_id = "
                              "v.function_id " + std::string(where),
                          params));
  std::vector<FunctionRow> out;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(FunctionRow f, RowToVersion(r));
    CLOISTER_RETURN_IF_ERROR(LoadAllowlist(ex, f));
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::optional<FunctionRow>> LoadVersion(storage::Executor& ex, std::string_view function_id,
                                               std::string_view hash, bool with_source) {
  const Value params[] = {std::string(function_id), std::string(hash)};
  CLOISTER_ASSIGN_OR_RETURN(auto rows,
                            QueryVersions(ex, "WHERE v.function_id = ? AND v.hash = ?", params));
  if (rows.empty()) return std::optional<FunctionRow>();
  FunctionRow f = std::move(rows.front());
  if (f.kind == tasks::FUNCTION_KIND_BUILTIN) f.source = f.builtin_name;
  if (with_source) {
    CLOISTER_ASSIGN_OR_RETURN(
        auto src, ex.QueryRow("SELECT source FROM function_versions WHERE function_id = ? AND "
                              "version = ?",
                              {f.function_id, f.version}));
    if (!src) return Inconsistent("function source");
    CLOISTER_ASSIGN_OR_RETURN(Bytes b, src->GetBlob(0));
    f.source = std::string(AsChars(b));
  }
  return std::optional<FunctionRow>(std::move(f));
}

Result<int64_t> NextSeq(storage::Executor& ex, std::string_view table) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT COALESCE(MAX(seq), 0) + 1 FROM " + std::string(table)));
  if (!row) return Inconsistent("seq");
  return row->GetInt(0);
}

// ---- task rows ----

Value ArgToValue(const functions::ArgValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return int64_t{std::get<bool>(v) ? 1 : 0};
}

Result<functions::ArgValue> ValueToArg(int64_t type, const storage::Row& r, size_t i) {
  switch (type) {
    case 1: {
      CLOISTER_ASSIGN_OR_RETURN(std::string s, r.GetText(i));
      return functions::ArgValue(std::move(s));
    }
    case 2: {
      CLOISTER_ASSIGN_OR_RETURN(int64_t v, r.GetInt(i));
      return functions::ArgValue(v);
    }
    case 3: {
      CLOISTER_ASSIGN_OR_RETURN(double v, r.GetDouble(i));
      return functions::ArgValue(v);
    }
    case 4: {
      CLOISTER_ASSIGN_OR_RETURN(int64_t v, r.GetInt(i));
      return functions::ArgValue(v != 0);
    }
    default: break;
  }
  return Inconsistent("argument type");
}

Result<TaskRow> RowToTask(const storage::Row& row) {
  TaskRow t;
  CLOISTER_ASSIGN_OR_RETURN(t.task_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(t.creator, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(t.function_id, row.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(t.function_hash, row.GetText(3));
  CLOISTER_ASSIGN_OR_RETURN(t.description, row.GetText(4));
  CLOISTER_ASSIGN_OR_RETURN(int64_t state, row.GetInt(5));
  CLOISTER_ASSIGN_OR_RETURN(t.state, StateOf(state));
  CLOISTER_ASSIGN_OR_RETURN(t.version, row.GetInt(6));
  CLOISTER_ASSIGN_OR_RETURN(t.digest, row.GetText(7));
  CLOISTER_ASSIGN_OR_RETURN(t.created_ms, row.GetInt(8));
  CLOISTER_ASSIGN_OR_RETURN(t.updated_ms, row.GetInt(9));
  CLOISTER_ASSIGN_OR_RETURN(t.seq, row.GetInt(10));
  CLOISTER_ASSIGN_OR_RETURN(t.queue_seq, row.GetInt(11));
  CLOISTER_ASSIGN_OR_RETURN(t.not_before_ms, row.GetInt(12));
  CLOISTER_ASSIGN_OR_RETURN(t.attempts, row.GetInt(13));
  CLOISTER_ASSIGN_OR_RETURN(t.lease_token, row.GetInt(14));
  CLOISTER_ASSIGN_OR_RETURN(t.lease_worker, row.GetText(15));
  CLOISTER_ASSIGN_OR_RETURN(t.lease_expires_ms, row.GetInt(16));
  CLOISTER_ASSIGN_OR_RETURN(t.end_reason, row.GetText(17));
  CLOISTER_ASSIGN_OR_RETURN(t.end_message, row.GetText(18));
  CLOISTER_ASSIGN_OR_RETURN(t.end_by, row.GetText(19));
  return t;
}

// One row of a task's inputs or approvals, columns in the order LoadChildren selects.
Status DecodeChild(const storage::Row& r, InputRow& in) {
  CLOISTER_ASSIGN_OR_RETURN(in.slot, r.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(in.owner, r.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(in.file_id, r.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(in.sha256, r.GetBlob(3));
  return OkStatus();
}
Status DecodeChild(const storage::Row& r, ApprovalRow& a) {
  CLOISTER_ASSIGN_OR_RETURN(a.user_id, r.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(a.digest, r.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(a.at_ms, r.GetInt(2));
  return OkStatus();
}

// Reads a task's child rows into `into`, each under its own `key` field
// (a repeated key keeps the first row).
template <typename Rec>
Status LoadKeyed(storage::Executor& ex, std::string_view sql, storage::Params id,
                 std::map<std::string, Rec, std::less<>>& into, std::string Rec::*key) {
  CLOISTER_ASSIGN_OR_RETURN(auto rows, ex.Query(sql, id));
  for (const auto& r : rows) {
    Rec rec;
    CLOISTER_RETURN_IF_ERROR(DecodeChild(r, rec));
    std::string k = rec.*key;
    into.emplace(std::move(k), std::move(rec));
  }
  return OkStatus();
}

Status LoadChildren(storage::Executor& ex, TaskRow& t) {
  const Value id[] = {t.task_id};
  CLOISTER_ASSIGN_OR_RETURN(auto args,
                            ex.Query("SELECT name, type, v FROM task_args WHERE task_id = ?", id));
  for (const auto& r : args) {
    CLOISTER_ASSIGN_OR_RETURN(std::string name, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(int64_t type, r.GetInt(1));
    CLOISTER_ASSIGN_OR_RETURN(functions::ArgValue v, ValueToArg(type, r, 2));
    t.args.emplace(std::move(name), std::move(v));
  }
  CLOISTER_RETURN_IF_ERROR(LoadKeyed(
      ex, "SELECT slot, owner, file_id, sha256 FROM task_inputs WHERE task_id = ?", id, t.inputs,
      &InputRow::slot));
  CLOISTER_ASSIGN_OR_RETURN(
      auto outputs, ex.Query("SELECT slot, owner, file_id FROM task_outputs WHERE task_id = ?", id));
  for (const auto& r : outputs) {
    CLOISTER_ASSIGN_OR_RETURN(std::string slot, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(std::string owner, r.GetText(1));
    CLOISTER_ASSIGN_OR_RETURN(std::string file_id, r.GetText(2));
    OutputRow& out = t.outputs[slot];
    out.slot = slot;
    if (!file_id.empty()) out.file_ids[owner] = std::move(file_id);
    out.owners.insert(std::move(owner));
  }
  CLOISTER_RETURN_IF_ERROR(LoadKeyed(
      ex, "SELECT user_id, digest, at_ms FROM task_approvals WHERE task_id = ?", id, t.approvals,
      &ApprovalRow::user_id));
  CLOISTER_ASSIGN_OR_RETURN(
      auto participants, ex.Query("SELECT user_id FROM task_participants WHERE task_id = ?", id));
  for (const auto& r : participants) {
    CLOISTER_ASSIGN_OR_RETURN(std::string u, r.GetText(0));
    t.participants.insert(std::move(u));
  }
  return OkStatus();
}

Result<std::optional<TaskRow>> LoadTaskIn(storage::Executor& ex, std::string_view task_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT " + std::string(kTaskColumns) + " FROM tasks WHERE task_id = ?",
                            {std::string(task_id)}));
  if (!row) return std::optional<TaskRow>();
  CLOISTER_ASSIGN_OR_RETURN(TaskRow t, RowToTask(*row));
  CLOISTER_RETURN_IF_ERROR(LoadChildren(ex, t));
  return std::optional<TaskRow>(std::move(t));
}

Status WriteChildren(storage::Tx& tx, const TaskRow& t) {
  for (std::string_view table :
       {"task_args", "task_inputs", "task_outputs", "task_approvals", "task_participants"})
    CLOISTER_RETURN_IF_ERROR(
        tx.Execute("DELETE FROM " + std::string(table) + " WHERE task_id = ?", {t.task_id}));
  for (const auto& [name, v] : t.args)
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO task_args (task_id, name, type, v) VALUES (?, ?, ?, ?)",
        {t.task_id, name, int64_t{static_cast<int64_t>(v.index()) + 1}, ArgToValue(v)}));
  for (const auto& [slot, in] : t.inputs)
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO task_inputs (task_id, slot, owner, file_id, sha256) VALUES (?, ?, ?, ?, ?)",
        {t.task_id, slot, in.owner, in.file_id, in.sha256}));
  for (const auto& [slot, out] : t.outputs)
    for (const auto& owner : out.owners)
      CLOISTER_RETURN_IF_ERROR(tx.Execute(
          "INSERT INTO task_outputs (task_id, slot, owner, file_id) VALUES (?, ?, ?, ?)",
          {t.task_id, slot, owner, FileIdOf(out, owner)}));
  for (const auto& [user, a] : t.approvals)
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO task_approvals (task_id, user_id, digest, at_ms) VALUES (?, ?, ?, ?)",
        {t.task_id, user, a.digest, a.at_ms}));
  for (const auto& user : t.participants)
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO task_participants (task_id, user_id, task_seq) VALUES (?, ?, ?)",
        {t.task_id, user, t.seq}));
  return OkStatus();
}

Status AppendEvent(storage::Tx& tx, const std::string& task_id, const EventRow& ev) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, tx.QueryRow("SELECT COALESCE(MAX(seq), 0) + 1 FROM task_events WHERE task_id = ?",
                            {task_id}));
  if (!row) return Inconsistent("event seq");
  CLOISTER_ASSIGN_OR_RETURN(int64_t seq, row->GetInt(0));
  return tx.Execute("INSERT INTO task_events (task_id, " + std::string(kEventColumns) +
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    {task_id, seq, ev.at_ms, ev.actor, ev.event, int64_t{ev.from}, int64_t{ev.to},
                     ev.version, ev.digest, ev.detail});
}

Result<std::vector<std::string>> Ids(storage::Executor& ex, std::string_view sql,
                                     storage::Params params) {
  CLOISTER_ASSIGN_OR_RETURN(auto rows, ex.Query(sql, params));
  std::vector<std::string> out;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(std::string id, r.GetText(0));
    out.push_back(std::move(id));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<TaskStore>> TaskStore::Open(std::string_view url) {
  CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open(url));
  CLOISTER_RETURN_IF_ERROR(db->Migrate(kTasksMigrations));
  return std::make_unique<TaskStore>(std::move(db));
}

// ---- functions ----

Result<TaskStore::Registered> TaskStore::RegisterVersion(FunctionRow row, bool new_function) {
  Registered out;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    if (new_function) {
      CLOISTER_ASSIGN_OR_RETURN(row.function_seq, NextSeq(tx, "functions"));
      CLOISTER_RETURN_IF_ERROR(tx.Execute(
          "INSERT INTO functions (function_id, owner, created_ms, seq) VALUES (?, ?, ?, ?)",
          {row.function_id, row.owner, row.created_ms, row.function_seq}));
    } else {
      CLOISTER_ASSIGN_OR_RETURN(
          auto f, tx.QueryRow("SELECT owner, seq FROM functions WHERE function_id = ?", {row.function_id}));
      if (!f) return NotFound("no such function (or not usable by you)", reason::kFunctionNotFound);
      CLOISTER_ASSIGN_OR_RETURN(std::string owner, f->GetText(0));
      if (owner != row.owner) return Inconsistent("function owner");
      CLOISTER_ASSIGN_OR_RETURN(row.function_seq, f->GetInt(1));
      CLOISTER_ASSIGN_OR_RETURN(auto existing, LoadVersion(tx, row.function_id, row.hash, false));
      if (existing) {
        out = {*std::move(existing), false};
        return OkStatus();
      }
    }
    CLOISTER_ASSIGN_OR_RETURN(
        auto v, tx.QueryRow("SELECT COALESCE(MAX(version), 0) + 1 FROM function_versions WHERE "
                            "function_id = ?",
                            {row.function_id}));
    if (!v) return Inconsistent("version");
    CLOISTER_ASSIGN_OR_RETURN(row.version, v->GetInt(0));
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO function_versions (function_id, version, hash, kind, builtin_name, source, "
        "spec, description, is_public, disabled, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        {row.function_id, row.version, row.hash, int64_t{row.kind}, row.builtin_name,
         ToBytes(row.source), ToBytes(row.spec.SerializeAsString()), row.description,
         int64_t{row.is_public ? 1 : 0}, row.created_ms}));
    for (const auto& u : row.allowed)
      CLOISTER_RETURN_IF_ERROR(tx.Execute(
          "INSERT INTO function_allow (function_id, version, user_id) VALUES (?, ?, ?)",
          {row.function_id, row.version, u}));
    out = {row, true};
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return out;
}

Result<std::optional<FunctionRow>> TaskStore::GetVersion(std::string_view function_id,
                                                         std::string_view hash, bool with_source) {
  return LoadVersion(*db_, function_id, hash, with_source);
}

Result<std::vector<FunctionRow>> TaskStore::VersionsByHash(std::string_view hash) {
  const Value params[] = {std::string(hash)};
  return QueryVersions(*db_, "WHERE v.hash = ? ORDER BY f.seq", params);
}

Result<std::vector<FunctionRow>> TaskStore::Versions(std::string_view function_id) {
  const Value params[] = {std::string(function_id)};
  return QueryVersions(*db_, "WHERE v.function_id = ? ORDER BY v.version", params);
}

Result<std::vector<FunctionRow>> TaskStore::ListUsable(std::string_view user, bool mine_only,
                                                       bool include_disabled, int64_t before_seq,
                                                       size_t limit) {
  const std::string u(user);
  const Value params[] = {u,
                          int64_t{mine_only ? 1 : 0},
                          u,
                          int64_t{include_disabled ? 1 : 0},
                          before_seq > 0 ? before_seq : INT64_MAX,
                          static_cast<int64_t>(limit)};
  // The latest usable version of each function, then the page.
  return QueryVersions(
      *db_,
      "JOIN (SELECT w.function_id AS fid, MAX(w.version) AS ver FROM function_versions w "
      "      JOIN functions g ON g.function_id = w.function_id "
      "      WHERE (g.owner = ? OR (? = 0 AND (w.is_public = 1 OR EXISTS (SELECT 1 FROM "
      "             function_allow a WHERE a.function_id = w.function_id AND a.version = "
      "             w.version AND a.user_id = ?)))) "
      "        AND (? = 1 OR w.disabled = 0) "
      "      GROUP BY w.function_id) l ON l.fid = v.function_id AND l.ver = v.version "
      "WHERE f.seq < ? ORDER BY f.seq DESC LIMIT ?",
      params);
}

Result<int64_t> TaskStore::Disable(std::string_view function_id, std::string_view hash) {
  if (hash.empty())
    return db_->ExecuteChanges(
        "UPDATE function_versions SET disabled = 1 WHERE function_id = ? AND disabled = 0",
        {std::string(function_id)});
  return db_->ExecuteChanges(
      "UPDATE function_versions SET disabled = 1 WHERE function_id = ? AND hash = ? AND disabled = 0",
      {std::string(function_id), std::string(hash)});
}

// ---- tasks ----

Status TaskStore::InsertTask(TaskRow& t, EventRow ev) {
  return db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(t.seq, NextSeq(tx, "tasks"));
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO tasks (" + std::string(kTaskColumns) +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {t.task_id, t.creator, t.function_id, t.function_hash, t.description, int64_t{t.state},
         t.version, t.digest, t.created_ms, t.updated_ms, t.seq, t.queue_seq, t.not_before_ms,
         t.attempts, t.lease_token, t.lease_worker, t.lease_expires_ms, t.end_reason,
         t.end_message, t.end_by}));
    CLOISTER_RETURN_IF_ERROR(WriteChildren(tx, t));
    return AppendEvent(tx, t.task_id, ev);
  });
}

Result<std::optional<TaskRow>> TaskStore::LoadTask(std::string_view task_id) {
  // In a transaction, so the row and its children are one version (a
  // change commits all of them at once).
  std::optional<TaskRow> out;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(out, LoadTaskIn(tx, task_id));
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return out;
}

Status TaskStore::CommitTask(const TaskRow& t, int64_t expected_version, TaskState expected_state,
                             EventRow ev) {
  if (t.version != expected_version + 1) return Inconsistent("version step");
  return db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(
        int64_t n,
        tx.ExecuteChanges(
            "UPDATE tasks SET function_id = ?, function_hash = ?, description = ?, state = ?, "
            "version = ?, digest = ?, updated_ms = ?, queue_seq = ?, not_before_ms = ?, "
            "attempts = ?, lease_token = ?, lease_worker = ?, lease_expires_ms = ?, "
            "end_reason = ?, end_message = ?, end_by = ? "
            "WHERE task_id = ? AND version = ? AND state = ?",
            {t.function_id, t.function_hash, t.description, int64_t{t.state}, t.version, t.digest,
             t.updated_ms, t.queue_seq, t.not_before_ms, t.attempts, t.lease_token,
             t.lease_worker, t.lease_expires_ms, t.end_reason, t.end_message, t.end_by,
             t.task_id, expected_version, int64_t{expected_state}}));
    if (n == 0) return TaskChanged();
    CLOISTER_RETURN_IF_ERROR(WriteChildren(tx, t));
    return AppendEvent(tx, t.task_id, ev);
  });
}

Result<std::vector<TaskRow>> TaskStore::ListTasksFor(std::string_view user, TaskState state,
                                                     int64_t before_seq, size_t limit) {
  std::vector<TaskRow> out;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    const Value params[] = {std::string(user), before_seq > 0 ? before_seq : INT64_MAX,
                            int64_t{state}, int64_t{state}, static_cast<int64_t>(limit)};
    CLOISTER_ASSIGN_OR_RETURN(
        auto rows, tx.Query("SELECT " + Prefixed(kTaskColumns, "t.") +
                                " FROM task_participants p JOIN tasks t ON t.task_id = p.task_id "
                                "WHERE p.user_id = ? AND p.task_seq < ? AND (? = 0 OR t.state = ?) "
                                "ORDER BY p.task_seq DESC LIMIT ?",
                            params));
    for (const auto& r : rows) {
      CLOISTER_ASSIGN_OR_RETURN(TaskRow t, RowToTask(r));
      CLOISTER_RETURN_IF_ERROR(LoadChildren(tx, t));
      out.push_back(std::move(t));
    }
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  return out;
}

Result<std::vector<EventRow>> TaskStore::Events(std::string_view task_id, int64_t after_seq,
                                                size_t limit) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT " + std::string(kEventColumns) +
                                " FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                            {std::string(task_id), after_seq, static_cast<int64_t>(limit)}));
  std::vector<EventRow> out;
  for (const auto& r : rows) {
    EventRow e;
    CLOISTER_ASSIGN_OR_RETURN(e.seq, r.GetInt(0));
    CLOISTER_ASSIGN_OR_RETURN(e.at_ms, r.GetInt(1));
    CLOISTER_ASSIGN_OR_RETURN(e.actor, r.GetText(2));
    CLOISTER_ASSIGN_OR_RETURN(e.event, r.GetText(3));
    CLOISTER_ASSIGN_OR_RETURN(int64_t from, r.GetInt(4));
    CLOISTER_ASSIGN_OR_RETURN(int64_t to, r.GetInt(5));
    // "created" comes from no state.
    if (from != 0) {
      CLOISTER_ASSIGN_OR_RETURN(e.from, StateOf(from));
    }
    CLOISTER_ASSIGN_OR_RETURN(e.to, StateOf(to));
    CLOISTER_ASSIGN_OR_RETURN(e.version, r.GetInt(6));
    CLOISTER_ASSIGN_OR_RETURN(e.digest, r.GetText(7));
    CLOISTER_ASSIGN_OR_RETURN(e.detail, r.GetText(8));
    out.push_back(std::move(e));
  }
  return out;
}

// ---- the queue ----

Result<std::vector<std::string>> TaskStore::ClaimCandidates(int64_t now_ms, size_t limit) {
  const Value params[] = {int64_t{tasks::TASK_STATE_QUEUED}, now_ms, static_cast<int64_t>(limit)};
  return Ids(*db_,
             "SELECT task_id FROM tasks WHERE state = ? AND not_before_ms <= ? "
             "ORDER BY queue_seq, seq LIMIT ?",
             params);
}

Result<bool> TaskStore::ExtendLease(std::string_view task_id, int64_t token, int64_t now_ms,
                                   int64_t expires_ms) {
  CLOISTER_ASSIGN_OR_RETURN(
      int64_t n, db_->ExecuteChanges(
                     "UPDATE tasks SET lease_expires_ms = ? WHERE task_id = ? AND state = ? AND "
                     "lease_token = ? AND lease_expires_ms > ?",
                     {expires_ms, std::string(task_id), int64_t{tasks::TASK_STATE_RUNNING}, token,
                      now_ms}));
  return n > 0;
}

Result<std::vector<std::string>> TaskStore::ExpiredLeases(int64_t now_ms, size_t limit) {
  const Value params[] = {int64_t{tasks::TASK_STATE_RUNNING}, now_ms, static_cast<int64_t>(limit)};
  return Ids(*db_,
             "SELECT task_id FROM tasks WHERE state = ? AND lease_expires_ms <= ? "
             "ORDER BY lease_expires_ms LIMIT ?",
             params);
}

Result<std::map<TaskState, int64_t>> TaskStore::CountByState() {
  CLOISTER_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT state, COUNT(*) FROM tasks GROUP BY state"));
  std::map<TaskState, int64_t> out;
  for (const auto& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(int64_t s, r.GetInt(0));
    CLOISTER_ASSIGN_OR_RETURN(TaskState state, StateOf(s));
    CLOISTER_ASSIGN_OR_RETURN(out[state], r.GetInt(1));
  }
  return out;
}

// ---- usernames ----

Status TaskStore::NoteUser(std::string_view user_id, std::string_view username) {
  return db_->Execute(
      "INSERT INTO users_seen (user_id, username) VALUES (?, ?) "
      "ON CONFLICT (user_id) DO UPDATE SET username = excluded.username",
      {std::string(user_id), std::string(username)});
}

Result<std::map<std::string, std::string>> TaskStore::Usernames(
    const std::set<std::string, std::less<>>& ids) {
  std::map<std::string, std::string> out;
  for (const auto& id : ids) {
    CLOISTER_ASSIGN_OR_RETURN(
        auto row, db_->QueryRow("SELECT username FROM users_seen WHERE user_id = ?", {id}));
    if (!row) continue;
    CLOISTER_ASSIGN_OR_RETURN(out[id], row->GetText(0));
  }
  return out;
}

}  // namespace cloister::tasks_service
