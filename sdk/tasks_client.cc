// The SDK's task calls: Functions, Tasks, the long-poll loop, fetching
// outputs through FilesClient, and the client-side task digest; see
// tasks_client.h.
#include "sdk/tasks_client.h"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/fs.h"
#include "common/grpc_status.h"
#include "sdk/gateway_channel.h"

namespace cloister::sdk {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr uint32_t kListPageSize = 1000;
constexpr milliseconds kMaxBackoff{5'000};
constexpr milliseconds kMaxPoll{30'000};  // WaitTask's own maximum
constexpr std::string_view kTaskDigestTag = "cloister.task.v1";

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}
bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), IsNameChar);
}
bool IsLowerHex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
// A task slot: <name> or <name>.<party>. Never ".", ".." or a path.
bool IsSlotName(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return IsName(s);
  return IsName(s.substr(0, dot)) && IsName(s.substr(dot + 1));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string JoinText(const google::protobuf::RepeatedPtrField<std::string>& items,
                 std::string_view sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

// The encoding primitives of docs/tasks.md: big-endian fixed width and
// u32-length-prefixed strings (services/tasks/canonical.cc is the other half).
class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void U64(uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

bool IsTransientWaitError(const Error& e) {
  switch (e.code()) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kAborted:
      return true;
    case Code::kResourceExhausted:
      return e.reason() == "WAITERS_EXHAUSTED";  // too many long polls at once: later
    default:
      return false;
  }
}

milliseconds BackoffFor(milliseconds initial, int attempt) {
  milliseconds d = std::max(initial, milliseconds(1));
  for (int i = 1; i < attempt && d < kMaxBackoff; ++i) d *= 2;
  return std::min(d, kMaxBackoff);
}

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> Create() {
    std::error_code ec;
    std::string tmpl = (fs::temp_directory_path(ec) / "cloister-outputs-XXXXXX").string();
    if (ec) tmpl = "/tmp/cloister-outputs-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoError(errno, "mkdtemp " + tmpl);
    return TempDir(std::move(tmpl));  // mkdtemp makes it 0700
  }
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

}  // namespace

// ---- the connection ----

namespace tasks_internal {

class Connection {
 public:
  Connection(Client* client, ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : client(client),
        options(std::move(options)),
        channel(std::move(channel)),
        stub(tasks::Tasks::NewStub(this->channel)) {}

  static Result<std::shared_ptr<Connection>> Open(Client* client, ClientOptions options) {
    if (client == nullptr) return InvalidArgument("no client");
    CLOISTER_ASSIGN_OR_RETURN(auto channel, OpenGatewayChannel(options));
    return std::make_shared<Connection>(client, std::move(options), std::move(channel));
  }

  // One unary call with the deadline and the Client's credential (a token
  // close to expiry is refreshed through the Client first, once).
  template <typename Req, typename Resp, typename Fn>
  Result<Resp> Invoke(const Req& req, Fn fn, std::optional<milliseconds> timeout = {}) {
    auto session = client->session();
    if (!session) return Unauthenticated("not logged in", kNotLoggedIn);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (session->api_key.empty() && !session->refresh_token.empty() &&
        session->expires_unix - now < options.refresh_margin.count()) {
      CLOISTER_RETURN_IF_ERROR(client->WhoAmI());
      session = client->session();
      if (!session) return Unauthenticated("session ended", kNotLoggedIn);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout.value_or(options.call_timeout));
    if (!session->api_key.empty())
      ctx.AddMetadata("authorization", "ApiKey " + session->api_key);
    else
      ctx.AddMetadata("authorization", "Bearer " + session->token);
    Resp resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(fn(stub.get(), &ctx, req, &resp)));
    return resp;
  }

  Client* client;
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<tasks::Tasks::Stub> stub;
};

}  // namespace tasks_internal

#define CLOISTER_TASKS_STUB(M)                                                  \
  [](tasks::Tasks::Stub* stub_, grpc::ClientContext* stub_ctx, const auto& stub_req, \
     auto* stub_resp) { return stub_->M(stub_ctx, stub_req, stub_resp); }

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

Result<tasks::Task> Tasks::Wait(std::string_view task_id, const WaitOptions& o) {
  using Clock = std::chrono::steady_clock;
  const bool has_deadline = o.timeout.count() > 0;
  const auto deadline = Clock::now() + o.timeout;
  const milliseconds poll = std::clamp(o.poll, milliseconds(1), kMaxPoll);
  uint64_t cursor = o.after_version;
  bool reported = false;
  std::optional<tasks::Task> last;
  std::optional<Error> last_error;
  int errors = 0;
  auto left = [&] {
    return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  };
  for (;;) {
    milliseconds wait = poll;
    if (has_deadline) {
      if (left() <= milliseconds(0)) break;
      wait = std::clamp(left(), milliseconds(1), poll);
    }
    tasks::WaitTaskRequest r;
    r.set_task_id(std::string(task_id));
    r.set_after_version(cursor);
    r.set_timeout_ms(static_cast<uint32_t>(wait.count()));
    // The call itself may take the whole long poll, plus the usual margin.
    auto resp = conn_->Invoke<tasks::WaitTaskRequest, tasks::WaitTaskResponse>(
        r, CLOISTER_TASKS_STUB(WaitTask), wait + conn_->options.call_timeout);
    if (!resp.ok()) {
      if (!IsTransientWaitError(resp.error())) return resp.error();
      last_error = resp.error();
      ++errors;
      if (!has_deadline && errors >= o.max_consecutive_errors)
        return resp.error().WithContext("waiting for task " + std::string(task_id) + " (after " +
                                        std::to_string(errors) + " attempts)");
      milliseconds pause = BackoffFor(o.initial_backoff, errors);
      if (has_deadline) pause = std::min(pause, std::max(left(), milliseconds(0)));
      std::this_thread::sleep_for(pause);
      continue;
    }
    errors = 0;
    const tasks::Task& t = resp->task();
    // The first answer to a wait from version 0 is the task as it is: the
    // caller sees the starting point, then every change.
    if (t.version() > cursor || (!reported && o.after_version == 0)) {
      cursor = std::max(cursor, t.version());
      reported = true;
      if (o.on_change) o.on_change(t);
    }
    if (IsFinalTaskState(t.state())) return t;
    last = t;
  }
  std::string msg = "task " + std::string(task_id);
  if (last) {
    msg += " is still " + TaskStateName(last->state()) + " after " +
           std::to_string(o.timeout.count() / 1000) + " s";
    if (last->missing_size() > 0) msg += ": " + JoinText(last->missing(), "; ");
  } else {
    msg += " did not answer within " + std::to_string(o.timeout.count() / 1000) + " s";
    if (last_error) msg += " (" + last_error->ToString() + ")";
  }
  return DeadlineExceeded(msg, kTaskWaitTimeout);
}

namespace {

Error NotSucceeded(const tasks::Task& t) {
  std::string msg = "task " + t.task_id() + " is " + TaskStateName(t.state()) + ", not Succeeded";
  if (t.has_end() && !t.end().reason().empty()) {
    msg += " (" + t.end().reason();
    if (!t.end().message().empty()) msg += ": " + t.end().message();
    msg += ")";
  } else if (t.missing_size() > 0) {
    msg += ": " + JoinText(t.missing(), "; ");
  }
  return FailedPrecondition(msg, kTaskNotSucceeded);
}

}  // namespace

Result<std::vector<FetchedOutput>> Tasks::FetchOutputs(std::string_view task_id,
                                                       FilesClient& files, const std::string& dir,
                                                       const FetchObserver& observer) {
  CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, Get(task_id));
  if (t.state() != tasks::TASK_STATE_SUCCEEDED) return NotSucceeded(t);
  CLOISTER_ASSIGN_OR_RETURN(std::vector<OutputToFetch> plan, PlanOutputFetch(t, self_user_id()));
  if (!plan.empty()) CLOISTER_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::vector<FetchedOutput> out;
  for (const auto& o : plan) {
    const std::string path = (fs::path(dir) / o.file_name).string();
    ProgressFn progress = observer.begin ? observer.begin(o) : nullptr;
    Status st = files.Download(o.file_id, path, progress);
    if (observer.end) observer.end(o, st);
    if (!st.ok()) return st.error().WithContext("output " + o.slot);
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    out.push_back({o.slot, o.file_id, path, ec ? 0 : size});
  }
  return out;
}

Result<std::map<std::string, std::string>> Tasks::FetchOutputsToMemory(std::string_view task_id,
                                                                       FilesClient& files,
                                                                       uint64_t max_total_bytes) {
  CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, Get(task_id));
  if (t.state() != tasks::TASK_STATE_SUCCEEDED) return NotSucceeded(t);
  CLOISTER_ASSIGN_OR_RETURN(std::vector<OutputToFetch> plan, PlanOutputFetch(t, self_user_id()));
  // The sizes first, so a huge output is refused before any byte moves.
  uint64_t total = 0;
  for (const auto& o : plan) {
    CLOISTER_ASSIGN_OR_RETURN(filestore::FileInfo info, files.Stat(o.file_id));
    total += info.plaintext_size();
    if (total > max_total_bytes)
      return ResourceExhausted("the outputs of task " + t.task_id() + " exceed " +
                                   std::to_string(max_total_bytes) + " bytes (at slot " + o.slot +
                                   "); fetch them to a directory instead",
                               kOutputTooLarge);
  }
  CLOISTER_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create());
  std::map<std::string, std::string> out;
  for (const auto& o : plan) {
    const std::string path = (fs::path(tmp.path()) / o.file_name).string();
    Status st = files.Download(o.file_id, path);
    if (!st.ok()) return st.error().WithContext("output " + o.slot);
    auto bytes = ReadFile(path, static_cast<size_t>(max_total_bytes));
    std::error_code ec;
    fs::remove(path, ec);
    if (!bytes.ok()) return bytes.error().WithContext("output " + o.slot);
    out[o.slot] = std::move(*bytes);
  }
  return out;
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

#undef CLOISTER_TASKS_STUB

// ---- pure helpers ----

namespace {

struct StateWords {
  tasks::TaskState state;
  const char* name;
};
constexpr StateWords kStates[] = {
    {tasks::TASK_STATE_CREATED, "Created"},     {tasks::TASK_STATE_DATA_ASSIGNED, "DataAssigned"},
    {tasks::TASK_STATE_APPROVED, "Approved"},   {tasks::TASK_STATE_QUEUED, "Queued"},
    {tasks::TASK_STATE_RUNNING, "Running"},     {tasks::TASK_STATE_SUCCEEDED, "Succeeded"},
    {tasks::TASK_STATE_FAILED, "Failed"},       {tasks::TASK_STATE_CANCELED, "Canceled"},
    {tasks::TASK_STATE_REJECTED, "Rejected"},
};

}  // namespace

std::string TaskStateName(tasks::TaskState state) {
  for (const auto& s : kStates)
    if (s.state == state) return s.name;
  return "Unspecified";
}

Result<tasks::TaskState> ParseTaskState(std::string_view text) {
  std::string t = Lower(text);
  if (t.empty() || t == "any") return tasks::TASK_STATE_UNSPECIFIED;
  if (t.rfind("task_state_", 0) == 0) t = t.substr(11);
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  t.erase(std::remove(t.begin(), t.end(), '-'), t.end());
  std::string known;
  for (const auto& s : kStates) {
    if (Lower(s.name) == t) return s.state;
    known += (known.empty() ? "" : ", ") + std::string(s.name);
  }
  return InvalidArgument("'" + std::string(text.substr(0, 64)) + "' is not a task state (" +
                             known + ", or any)",
                         kStateFilterInvalid);
}

bool IsFinalTaskState(tasks::TaskState state) {
  return state == tasks::TASK_STATE_SUCCEEDED || state == tasks::TASK_STATE_FAILED ||
         state == tasks::TASK_STATE_CANCELED || state == tasks::TASK_STATE_REJECTED;
}

std::string FunctionKindName(tasks::FunctionKind kind) {
  switch (kind) {
    case tasks::FUNCTION_KIND_BUILTIN: return "builtin";
    case tasks::FUNCTION_KIND_LUA: return "lua";
    default: return "unspecified";
  }
}

std::string ArgTypeName(tasks::ArgType type) {
  switch (type) {
    case tasks::ARG_TYPE_STRING: return "string";
    case tasks::ARG_TYPE_INT: return "int";
    case tasks::ARG_TYPE_DOUBLE: return "double";
    case tasks::ARG_TYPE_BOOL: return "bool";
    default: return "unspecified";
  }
}

bool IsHexId(std::string_view s) { return IsLowerHex(s, 32); }
bool IsHexDigest(std::string_view s) { return IsLowerHex(s, 64); }
bool LooksLikeUserId(std::string_view s) {
  return s.size() == 34 && s.substr(0, 2) == "u-" && IsLowerHex(s.substr(2), 32);
}

// task = Str("cloister.task.v1") ‖ Str(function_hash)
//        ‖ U32(#args) ‖ per arg, by name: Str(name) ‖ Value
//        ‖ U32(#inputs) ‖ per input, by slot: Str(slot) ‖ Str(owner) ‖ U8(assigned)
//                                              [‖ Str(file_id) ‖ Str(32-byte sha256)]
//        ‖ U32(#outputs) ‖ per output, by slot: Str(slot) ‖ U32(#owners) ‖ Str(owner)… (sorted)
Result<std::string> ComputeTaskDigest(const tasks::Task& t) {
  Encoder w;
  w.Str(kTaskDigestTag);
  w.Str(t.function_hash());
  // A proto map has no order: sort by name (bytewise, as std::map does).
  std::vector<std::pair<std::string, const api::ArgumentValue*>> args;
  for (const auto& [k, v] : t.args()) args.emplace_back(k, &v);
  std::sort(args.begin(), args.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  w.U32(static_cast<uint32_t>(args.size()));
  for (const auto& [name, v] : args) {
    w.Str(name);
    switch (v->value_case()) {
      case api::ArgumentValue::kStringValue:
        w.U8(1);
        w.Str(v->string_value());
        break;
      case api::ArgumentValue::kIntValue:
        w.U8(2);
        w.U64(static_cast<uint64_t>(v->int_value()));
        break;
      case api::ArgumentValue::kDoubleValue: {
        double d = v->double_value();
        if (!std::isfinite(d))
          return InvalidArgument("argument '" + name + "' is not a finite number");
        if (d == 0) d = 0;  // -0 is written as +0
        w.U8(3);
        w.U64(std::bit_cast<uint64_t>(d));
        break;
      }
      case api::ArgumentValue::kBoolValue:
        w.U8(4);
        w.U8(v->bool_value() ? 1 : 0);
        break;
      default:
        return InvalidArgument("argument '" + name + "' has no value");
    }
  }
  std::vector<const tasks::TaskInput*> inputs;
  for (const auto& in : t.inputs()) inputs.push_back(&in);
  std::sort(inputs.begin(), inputs.end(),
            [](const auto* a, const auto* b) { return a->slot() < b->slot(); });
  w.U32(static_cast<uint32_t>(inputs.size()));
  for (const auto* in : inputs) {
    w.Str(in->slot());
    w.Str(in->owner_user_id());
    const bool assigned = !in->file_id().empty();
    w.U8(assigned ? 1 : 0);
    if (assigned) {
      w.Str(in->file_id());
      w.Str(in->ciphertext_sha256());
    }
  }
  std::vector<const tasks::TaskOutput*> outputs;
  for (const auto& out : t.outputs()) outputs.push_back(&out);
  std::sort(outputs.begin(), outputs.end(),
            [](const auto* a, const auto* b) { return a->slot() < b->slot(); });
  w.U32(static_cast<uint32_t>(outputs.size()));
  for (const auto* out : outputs) {
    w.Str(out->slot());
    std::vector<std::string> owners(out->owner_user_ids().begin(), out->owner_user_ids().end());
    std::sort(owners.begin(), owners.end());
    w.U32(static_cast<uint32_t>(owners.size()));
    for (const auto& o : owners) w.Str(o);
  }
  const crypto::Digest d = crypto::Sha256(std::string_view(w.bytes()));
  return HexEncode(ByteView(d.data(), d.size()));
}

Status VerifyTaskDigest(const tasks::Task& t) {
  CLOISTER_ASSIGN_OR_RETURN(std::string mine, ComputeTaskDigest(t));
  if (mine != t.digest())
    return DataLoss("task " + t.task_id() + ": the service shows digest " +
                        t.digest().substr(0, 64) + " but the task as shown hashes to " + mine +
                        "; refusing to approve what is not shown",
                    kTaskDigestMismatch);
  return OkStatus();
}

Result<std::vector<OutputToFetch>> PlanOutputFetch(const tasks::Task& t,
                                                   std::string_view caller_user_id) {
  std::map<std::string, OutputToFetch> by_slot;
  for (const auto& out : t.outputs()) {
    for (const auto& f : out.files()) {
      if (!caller_user_id.empty() && f.owner_user_id() != caller_user_id) continue;
      // The slot becomes a file name: it must be a slot name and nothing
      // else (no "/", no "..", no control bytes), whoever sent it.
      if (!IsSlotName(out.slot()))
        return InvalidArgument("task " + t.task_id() + " names an output slot '" +
                                   out.slot().substr(0, 64) +
                                   "' that is not <name> or <name>.<party>; refusing to use it "
                                   "as a file name",
                               kOutputSlotInvalid);
      if (!IsHexId(f.file_id()))
        return DataLoss("task " + t.task_id() + " output " + out.slot() +
                            ": the file id is not 32 hex digits",
                        kTaskOutputsInconsistent);
      auto [it, fresh] = by_slot.emplace(out.slot(), OutputToFetch{out.slot(), f.file_id(), out.slot()});
      if (!fresh)
        return DataLoss("task " + t.task_id() + " lists two files of yours for output " +
                            out.slot(),
                        kTaskOutputsInconsistent);
    }
  }
  std::vector<OutputToFetch> plan;
  for (auto& [slot, o] : by_slot) plan.push_back(std::move(o));
  return plan;
}

}  // namespace cloister::sdk
