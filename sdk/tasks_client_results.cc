// The tasks client's way to a task's results: the WaitTask long-poll loop
// (retrying transient errors with backoff), the plan of which output files
// are the caller's, and fetching them through FilesClient to a directory or
// to memory; see tasks_client.h.
#include "sdk/tasks_client.h"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <thread>

#include "common/fs.h"
#include "sdk/tasks_client_connection.h"

namespace cloister::sdk {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kMaxBackoff{5'000};
constexpr milliseconds kMaxPoll{30'000};  // WaitTask's own maximum

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}
bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), IsNameChar);
}
// A task slot: <name> or <name>.<party>. Never ".", ".." or a path.
bool IsSlotName(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return IsName(s);
  return IsName(s.substr(0, dot)) && IsName(s.substr(dot + 1));
}

std::string JoinText(const google::protobuf::RepeatedPtrField<std::string>& items,
                 std::string_view sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

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
