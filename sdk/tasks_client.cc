// The SDK's task calls: Functions (register, list, show, disable) and the
// unary Tasks calls (create, update, assign, approve, reject, revoke,
// invoke, cancel, get, list, log) and username resolution; see
// tasks_client.h (the long poll and output fetch: tasks_client_results.cc,
// the task digest: tasks_client_digest.cc, names: tasks_client_names.cc).
#include "sdk/tasks_client.h"

#include <algorithm>
#include <set>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "sdk/tasks_client_connection.h"

namespace cloister::sdk {
namespace {

constexpr uint32_t kListPageSize = 1000;

}  // namespace

// ---- Functions ----

Functions::Functions(std::shared_ptr<tasks_internal::Connection> conn) : conn_(std::move(conn)) {}
Functions::~Functions() = default;

Result<std::unique_ptr<Functions>> Functions::Create(Client* client, ClientOptions options) {
  CLOISTER_ASSIGN_OR_RETURN(auto conn, tasks_internal::Connection::Open(client, std::move(options)));
  return std::make_unique<Functions>(std::move(conn));
}

namespace {
void SetRegisterOptions(tasks::RegisterTaskFunctionRequest& r, const RegisterOptions& o) {
  r.set_description(o.description);
  r.set_public_(o.is_public);
  for (const auto& u : o.allowed_users) r.add_allowed_users(u);
  r.set_function_id(o.function_id);
}
}  // namespace

Result<tasks::RegisterTaskFunctionResponse> Functions::RegisterBuiltin(
    std::string_view name, const RegisterOptions& options) {
  tasks::RegisterTaskFunctionRequest r;
  r.set_kind(tasks::FUNCTION_KIND_BUILTIN);
  r.set_builtin_name(std::string(name));
  SetRegisterOptions(r, options);
  return conn_->Invoke<tasks::RegisterTaskFunctionRequest, tasks::RegisterTaskFunctionResponse>(
      r, CLOISTER_TASKS_STUB(RegisterTaskFunction));
}

Result<tasks::RegisterTaskFunctionResponse> Functions::RegisterLua(std::string_view source,
                                                                   const tasks::FunctionSpec& spec,
                                                                   const RegisterOptions& options) {
  tasks::RegisterTaskFunctionRequest r;
  r.set_kind(tasks::FUNCTION_KIND_LUA);
  r.set_lua_source(std::string(source));
  *r.mutable_spec() = spec;
  SetRegisterOptions(r, options);
  return conn_->Invoke<tasks::RegisterTaskFunctionRequest, tasks::RegisterTaskFunctionResponse>(
      r, CLOISTER_TASKS_STUB(RegisterTaskFunction));
}

Result<tasks::ListTaskFunctionsResponse> Functions::List(const ListFunctionsOptions& options,
                                                         uint32_t page_size,
                                                         std::string_view page_token) {
  tasks::ListTaskFunctionsRequest r;
  r.set_page_size(page_size);
  r.set_page_token(std::string(page_token));
  r.set_mine_only(options.mine_only);
  r.set_include_disabled(options.include_disabled);
  return conn_->Invoke<tasks::ListTaskFunctionsRequest, tasks::ListTaskFunctionsResponse>(
      r, CLOISTER_TASKS_STUB(ListTaskFunctions));
}

Result<std::vector<tasks::FunctionVersion>> Functions::ListAll(const ListFunctionsOptions& options) {
  std::vector<tasks::FunctionVersion> out;
  std::set<std::string> seen;
  std::string token;
  while (true) {
    CLOISTER_ASSIGN_OR_RETURN(auto page, List(options, kListPageSize, token));
    for (auto& f : *page.mutable_functions()) out.push_back(std::move(f));
    if (page.next_page_token().empty()) return out;
    // A token seen before would loop forever.
    if (!seen.insert(page.next_page_token()).second)
      return InvalidArgument("tasks repeated a page token", kListPagingBroken);
    token = page.next_page_token();
  }
}

Result<tasks::GetTaskFunctionResponse> Functions::Get(std::string_view id_or_hash,
                                                      bool include_source) {
  tasks::GetTaskFunctionRequest r;
  // A hash is 64 hex digits; anything else is sent as a function id, so a
  // malformed one gets the service's own FUNCTION_ID_INVALID.
  if (IsHexDigest(id_or_hash))
    r.set_hash(std::string(id_or_hash));
  else
    r.set_function_id(std::string(id_or_hash));
  r.set_include_source(include_source);
  return conn_->Invoke<tasks::GetTaskFunctionRequest, tasks::GetTaskFunctionResponse>(
      r, CLOISTER_TASKS_STUB(GetTaskFunction));
}

Result<uint32_t> Functions::Disable(std::string_view function_id, std::string_view hash) {
  tasks::DisableTaskFunctionRequest r;
  r.set_function_id(std::string(function_id));
  r.set_hash(std::string(hash));
  CLOISTER_ASSIGN_OR_RETURN(
      auto resp,
      (conn_->Invoke<tasks::DisableTaskFunctionRequest, tasks::DisableTaskFunctionResponse>(
          r, CLOISTER_TASKS_STUB(DisableTaskFunction))));
  return resp.disabled();
}

// ---- Tasks ----

Tasks::Tasks(std::shared_ptr<tasks_internal::Connection> conn)
    : conn_(std::move(conn)), functions_(std::make_unique<Functions>(conn_)) {}
Tasks::~Tasks() = default;

Result<std::unique_ptr<Tasks>> Tasks::Create(Client* client, ClientOptions options) {
  CLOISTER_ASSIGN_OR_RETURN(auto conn, tasks_internal::Connection::Open(client, std::move(options)));
  return std::make_unique<Tasks>(std::move(conn));
}

namespace {

void FillOwners(google::protobuf::Map<std::string, std::string>* out, const InputOwners& in) {
  for (const auto& [slot, user] : in) (*out)[slot] = user;
}
void FillOwners(google::protobuf::Map<std::string, tasks::SlotOwners>* out,
                const OutputOwners& in) {
  for (const auto& [slot, users] : in) {
    auto& owners = (*out)[slot];
    for (const auto& u : users) owners.add_user_ids(u);
  }
}

}  // namespace

Result<tasks::Task> Tasks::Create(const NewTask& t) {
  tasks::CreateTaskRequest r;
  r.set_function_hash(t.function_hash);
  r.set_function_id(t.function_id);
  for (const auto& [k, v] : t.args) (*r.mutable_args())[k] = v;
  FillOwners(r.mutable_inputs(), t.inputs);
  FillOwners(r.mutable_outputs(), t.outputs);
  r.set_description(t.description);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::CreateTaskRequest, tasks::CreateTaskResponse>(
                                r, CLOISTER_TASKS_STUB(CreateTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Create(std::string_view function_hash, const Arguments& args,
                                  const InputOwners& inputs, const OutputOwners& outputs,
                                  std::string_view description) {
  return Create(NewTask{.function_hash = std::string(function_hash),
                        .args = args,
                        .inputs = inputs,
                        .outputs = outputs,
                        .description = std::string(description)});
}

Result<tasks::Task> Tasks::Update(std::string_view task_id, const TaskUpdate& u) {
  tasks::UpdateTaskRequest r;
  r.set_task_id(std::string(task_id));
  r.set_function_hash(u.function_hash);
  r.set_function_id(u.function_id);
  if (u.args) {
    r.set_set_args(true);
    for (const auto& [k, v] : *u.args) (*r.mutable_args())[k] = v;
  }
  if (u.inputs) {
    r.set_set_inputs(true);
    FillOwners(r.mutable_inputs(), *u.inputs);
  }
  if (u.outputs) {
    r.set_set_outputs(true);
    FillOwners(r.mutable_outputs(), *u.outputs);
  }
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::UpdateTaskRequest, tasks::UpdateTaskResponse>(
                                r, CLOISTER_TASKS_STUB(UpdateTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Assign(std::string_view task_id, std::string_view slot,
                                  std::string_view file_id) {
  tasks::AssignInputRequest r;
  r.set_task_id(std::string(task_id));
  r.set_slot(std::string(slot));
  r.set_file_id(std::string(file_id));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::AssignInputRequest, tasks::AssignInputResponse>(
                                r, CLOISTER_TASKS_STUB(AssignInput))));
  return resp.task();
}

Result<tasks::Task> Tasks::Approve(std::string_view task_id, std::string_view digest) {
  tasks::ApproveTaskRequest r;
  r.set_task_id(std::string(task_id));
  r.set_digest(std::string(digest));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::ApproveTaskRequest, tasks::ApproveTaskResponse>(
                                r, CLOISTER_TASKS_STUB(ApproveTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Reject(std::string_view task_id, std::string_view reason) {
  tasks::RejectTaskRequest r;
  r.set_task_id(std::string(task_id));
  r.set_reason(std::string(reason));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::RejectTaskRequest, tasks::RejectTaskResponse>(
                                r, CLOISTER_TASKS_STUB(RejectTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Revoke(std::string_view task_id) {
  tasks::RevokeApprovalRequest r;
  r.set_task_id(std::string(task_id));
  CLOISTER_ASSIGN_OR_RETURN(
      auto resp, (conn_->Invoke<tasks::RevokeApprovalRequest, tasks::RevokeApprovalResponse>(
                     r, CLOISTER_TASKS_STUB(RevokeApproval))));
  return resp.task();
}

Result<tasks::Task> Tasks::Invoke(std::string_view task_id) {
  tasks::InvokeTaskRequest r;
  r.set_task_id(std::string(task_id));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::InvokeTaskRequest, tasks::InvokeTaskResponse>(
                                r, CLOISTER_TASKS_STUB(InvokeTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Cancel(std::string_view task_id, std::string_view reason) {
  tasks::CancelTaskRequest r;
  r.set_task_id(std::string(task_id));
  r.set_reason(std::string(reason));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::CancelTaskRequest, tasks::CancelTaskResponse>(
                                r, CLOISTER_TASKS_STUB(CancelTask))));
  return resp.task();
}

Result<tasks::Task> Tasks::Get(std::string_view task_id) {
  tasks::GetTaskRequest r;
  r.set_task_id(std::string(task_id));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (conn_->Invoke<tasks::GetTaskRequest, tasks::GetTaskResponse>(
                                r, CLOISTER_TASKS_STUB(GetTask))));
  return resp.task();
}

Result<tasks::ListTasksResponse> Tasks::List(tasks::TaskState state, uint32_t page_size,
                                             std::string_view page_token) {
  tasks::ListTasksRequest r;
  r.set_state(state);
  r.set_page_size(page_size);
  r.set_page_token(std::string(page_token));
  return conn_->Invoke<tasks::ListTasksRequest, tasks::ListTasksResponse>(
      r, CLOISTER_TASKS_STUB(ListTasks));
}

Result<std::vector<tasks::Task>> Tasks::ListAll(tasks::TaskState state, size_t max) {
  std::vector<tasks::Task> out;
  std::set<std::string> seen;
  std::string token;
  while (true) {
    const uint32_t want =
        max == 0 ? kListPageSize
                 : static_cast<uint32_t>(std::min<size_t>(kListPageSize, max - out.size()));
    CLOISTER_ASSIGN_OR_RETURN(auto page, List(state, want, token));
    for (auto& t : *page.mutable_tasks()) {
      if (max != 0 && out.size() >= max) break;
      out.push_back(std::move(t));
    }
    if (page.next_page_token().empty() || (max != 0 && out.size() >= max)) return out;
    if (!seen.insert(page.next_page_token()).second)
      return InvalidArgument("tasks repeated a page token", kListPagingBroken);
    token = page.next_page_token();
  }
}

Result<std::vector<tasks::TaskEvent>> Tasks::Log(std::string_view task_id) {
  std::vector<tasks::TaskEvent> out;
  std::set<std::string> seen;
  std::string token;
  while (true) {
    tasks::GetTaskLogRequest r;
    r.set_task_id(std::string(task_id));
    r.set_page_size(kListPageSize);
    r.set_page_token(token);
    CLOISTER_ASSIGN_OR_RETURN(auto page,
                              (conn_->Invoke<tasks::GetTaskLogRequest, tasks::GetTaskLogResponse>(
                                  r, CLOISTER_TASKS_STUB(GetTaskLog))));
    for (auto& e : *page.mutable_events()) out.push_back(std::move(e));
    if (page.next_page_token().empty()) return out;
    if (!seen.insert(page.next_page_token()).second)
      return InvalidArgument("tasks repeated a page token", kListPagingBroken);
    token = page.next_page_token();
  }
}

std::string Tasks::self_user_id() const {
  auto s = conn_->client->session();
  return s ? s->user.user_id() : "";
}

Result<std::string> Tasks::ResolveUser(std::string_view name) {
  if (LooksLikeUserId(name)) return std::string(name);
  if (name.empty()) return InvalidArgument("an empty user name", kUsernameUnresolved);
  auto s = conn_->client->session();
  if (s && !s->user.user_id().empty() && s->user.username() == name) return s->user.user_id();
  std::lock_guard<std::mutex> lock(users_mu_);
  if (users_) {
    auto it = users_->find(std::string(name));
    if (it != users_->end()) return it->second;
  } else {
    users_.emplace();
  }
  // Auth.LookupUsers answers any signed-in user; the answer is cached for
  // this object's life (a user id never changes).
  CLOISTER_ASSIGN_OR_RETURN(auto refs, conn_->client->LookupUsers({std::string(name)}));
  if (refs.size() != 1 || refs[0].username() != name || !LooksLikeUserId(refs[0].user_id()))
    return Internal("the lookup of '" + std::string(name.substr(0, 64)) +
                        "' answered something else",
                    kUsernameUnresolved);
  (*users_)[refs[0].username()] = refs[0].user_id();
  return refs[0].user_id();
}

}  // namespace cloister::sdk
