// `cloister task ...`: multi-party tasks from the command line (docs/tasks.md):
// create a task over a function version, assign one's own encrypted files
// to one's input slots, approve exactly the digest shown (recomputed here
// first), invoke, wait, and fetch and decrypt one's own outputs. Every
// refusal prints the service's code, stable reason and message.
//
//   cloister task create 9c1f…e2 --arg column=id --input set.bank=bank
//       --input set.insurer=insurer --output result.bank=bank --output result.insurer=insurer
//   cloister task assign 5d0e…a1 set.bank 3f2a…c9
//   cloister task show 5d0e…a1                  # state, digest, what it waits for
//   cloister task approve 5d0e…a1 --digest 77be…04
//   cloister task invoke 5d0e…a1 && cloister task wait 5d0e…a1 --timeout 300
//   cloister task result 5d0e…a1 -o out/
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/task_format.h"
#include "sdk/files_client.h"
#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

constexpr const char* kDigestRequired = "DIGEST_REQUIRED";

struct TaskFlags {
  std::string function, task, slot, file_id, digest, reason, description, out, state;
  std::vector<std::string> args, inputs, outputs;
  bool yes = false;
  double timeout_s = 0;
  size_t limit = 50;
};

struct Session {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::Tasks> tasks;
  std::string gateway, trust;
  std::string self;  // the caller's user id
};

Session Connect(const Globals& g, std::string_view cmd) {
  Session s;
  s.client = ConnectForCommand(g, cmd, true);
  auto saved = LoadSession(ClusterPaths::For(g.home));
  if (!saved.ok()) FailError(cmd, saved.error());
  s.gateway = saved->gateway;
  s.trust = saved->trust_path;
  auto tasks = sdk::Tasks::Create(s.client.get(), {.gateway_address = s.gateway,
                                                   .trust_path = s.trust});
  if (!tasks.ok()) FailError(cmd, tasks.error());
  s.tasks = std::move(*tasks);
  s.self = s.tasks->self_user_id();
  return s;
}

[[noreturn]] void Usage(std::string_view cmd, const std::string& msg) {
  std::cerr << "cloister " << cmd << ": " << msg << "\n";
  throw CLI::RuntimeError(kExitUsage);
}

// The task after a change: the JSON object, or one line and what it waits for.
void PrintChanged(const Globals& g, const tasks::Task& t, const std::string& what) {
  if (g.json) {
    PrintJson(TaskJson(t));
    return;
  }
  std::cout << what << "; task " << t.task_id() << " is " << sdk::TaskStateName(t.state())
            << "\n";
  const std::string end = EndText(t);
  if (!end.empty()) std::cout << "  " << end << "\n";
  for (const auto& m : t.missing()) std::cout << "  - " << m << "\n";
}

// ---- create ----

void Create(const TaskFlags& f, const Globals& g) {
  const std::string cmd = "task create";
  // Syntax first (exit 2), before any connection.
  std::vector<SlotBinding> inputs, outputs;
  for (const auto& text : f.inputs) {
    auto b = ParseSlotBinding(text, "--input", false);
    if (!b.ok()) Usage(cmd, b.error().message());
    inputs.push_back(std::move(*b));
  }
  for (const auto& text : f.outputs) {
    auto b = ParseSlotBinding(text, "--output", true);
    if (!b.ok()) Usage(cmd, b.error().message());
    outputs.push_back(std::move(*b));
  }
  for (const auto& kv : f.args)
    if (kv.find('=') == std::string::npos || kv.front() == '=')
      Usage(cmd, "--arg wants NAME=VALUE, got '" + kv + "'");
  if (outputs.empty()) Usage(cmd, "name at least one --output SLOT=USER[,USER]");

  Session s = Connect(g, cmd);
  // A hash pins that version; a function id means its latest version. The
  // spec types the arguments and names the slots.
  auto fn = s.tasks->functions().Get(f.function);
  if (!fn.ok()) FailError(cmd, fn.error().WithContext("function " + f.function));
  const tasks::FunctionVersion& version = fn->function();
  const tasks::FunctionSpec& spec = version.spec();
  auto args = ParseTaskArgs(spec, f.args);
  if (!args.ok()) FailError(cmd, args.error());

  std::map<std::string, std::string> resolved;  // name or id → id
  auto resolve = [&](const std::string& user, const std::string& context) {
    auto it = resolved.find(user);
    if (it != resolved.end()) return it->second;
    auto id = s.tasks->ResolveUser(user);
    if (!id.ok()) FailError(cmd, id.error().WithContext(context));
    resolved[user] = *id;
    return *id;
  };
  sdk::NewTask t;
  t.function_hash = version.hash();
  t.function_id = version.function_id();
  t.args = std::move(*args);
  t.description = f.description;
  for (const auto& b : inputs) {
    Status st = CheckSlot(spec, b.slot, true);
    if (!st.ok()) FailError(cmd, st.error().WithContext("--input"));
    if (t.inputs.count(b.slot)) Usage(cmd, "--input " + b.slot + " is given twice");
    t.inputs[b.slot] = resolve(b.users.front(), "--input " + b.slot);
  }
  for (const auto& b : outputs) {
    Status st = CheckSlot(spec, b.slot, false);
    if (!st.ok()) FailError(cmd, st.error().WithContext("--output"));
    auto& owners = t.outputs[b.slot];  // a slot named twice gets every owner named
    for (const auto& u : b.users) {
      const std::string id = resolve(u, "--output " + b.slot);
      if (std::find(owners.begin(), owners.end(), id) == owners.end()) owners.push_back(id);
    }
  }
  auto created = s.tasks->Create(t);
  PersistSession(g, *s.client);
  if (!created.ok()) FailError(cmd, created.error());
  if (g.json) {
    PrintJson(TaskJson(*created));
    return;
  }
  std::cout << "Created task " << created->task_id() << " (" << version.spec().name()
            << ", version " << version.version() << ")\n"
            << "  state:  " << sdk::TaskStateName(created->state()) << "\n"
            << "  digest: " << created->digest() << "\n";
  for (const auto& m : created->missing()) std::cout << "  - " << m << "\n";
}

// ---- approve ----

void Approve(const TaskFlags& f, const Globals& g) {
  const std::string cmd = "task approve";
  Session s = Connect(g, cmd);
  auto t = s.tasks->Get(f.task);
  if (!t.ok()) FailError(cmd, t.error());
  // What is shown must be what the digest covers, whichever digest is then
  // named: never approve a digest the displayed task does not hash to.
  Status verified = sdk::VerifyTaskDigest(*t);
  if (!verified.ok()) FailError(cmd, verified.error());
  std::string digest = f.digest;
  if (digest.empty()) {
    // Shown for review; with --json only when refusing, so that stdout is
    // always exactly one JSON value.
    if (!g.json) std::cout << FormatTask(*t, s.self);
    else if (!f.yes) PrintJson(TaskJson(*t));
    if (!f.yes) {
      PersistSession(g, *s.client);
      FailError(cmd, FailedPrecondition(
                         "not approved: approving names the digest you reviewed. Check the task "
                         "above, then run `cloister task approve " + t->task_id() +
                             " --digest " + t->digest() + "` (or add --yes to approve the digest "
                             "shown above)",
                         kDigestRequired));
    }
    digest = t->digest();
  }
  auto r = s.tasks->Approve(f.task, digest);
  PersistSession(g, *s.client);
  if (!r.ok()) FailError(cmd, r.error());
  if (g.json) {
    PrintJson(TaskJson(*r));
    return;
  }
  PrintChanged(g, *r, "Approved digest " + digest);
}

// ---- wait ----

// The spinner of `task wait` on a terminal: one permanent line per state
// change, and a redrawn line with the current state and the time waited.
class WaitDisplay {
 public:
  explicit WaitDisplay(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  ~WaitDisplay() { Clear(); }

  // From the waiting thread.
  void OnChange(const tasks::Task& t) {
    std::lock_guard<std::mutex> lock(mu_);
    line_ = WaitLine(t);
    if (!enabled_) return;
    Clear();
    std::cerr << "  [" << Elapsed() << "] " << line_ << "\n" << std::flush;
  }
  void Tick() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!enabled_ || line_.empty()) return;
    static constexpr const char kFrames[] = "|/-\\";
    std::string text = std::string(1, kFrames[frame_++ % 4]) + " waiting (" + Elapsed() + "): " +
                       line_;
    winsize ws{};
    const size_t cols =
        ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 4 ? ws.ws_col - 1 : 79;
    if (text.size() > cols) text = text.substr(0, cols);  // one screen line, so \r redraws it
    std::cerr << "\r\033[K  " << text << std::flush;
    drawn_ = true;
  }
  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  std::string Elapsed() const {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - start_)
                       .count();
    return std::to_string(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60);
  }

  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::string line_;    // guarded by mu_
  bool drawn_ = false;  // guarded by mu_ (Clear() outside OnChange runs once the waiter has joined)
  int frame_ = 0;       // guarded by mu_
};

void Wait(const TaskFlags& f, const Globals& g) {
  const std::string cmd = "task wait";
  if (f.timeout_s < 0) Usage(cmd, "--timeout must be ≥ 0 (0: no limit)");
  Session s = Connect(g, cmd);
  const bool tty = !g.json && ::isatty(STDERR_FILENO) == 1;
  WaitDisplay display(tty);
  sdk::WaitOptions opts;
  opts.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  opts.on_change = [&display](const tasks::Task& t) { display.OnChange(t); };

  std::optional<Result<tasks::Task>> result;
  if (!tty) {
    result.emplace(s.tasks->Wait(f.task, opts));
  } else {
    // The long poll blocks its thread; this one keeps the spinner turning.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;  // guarded by mu
    std::thread waiter([&] {
      Result<tasks::Task> r = s.tasks->Wait(f.task, opts);
      std::lock_guard<std::mutex> lock(mu);
      result.emplace(std::move(r));
      done = true;
      cv.notify_one();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
        lock.unlock();
        display.Tick();
        lock.lock();
      }
    }
    waiter.join();
    display.Clear();
  }
  PersistSession(g, *s.client);
  if (!result->ok()) FailError(cmd, result->error());
  const tasks::Task& t = **result;
  if (g.json) PrintJson(TaskJson(t));
  else std::cout << "Task " << t.task_id() << " " << sdk::TaskStateName(t.state()) << "\n";
  if (t.state() != tasks::TASK_STATE_SUCCEEDED)
    FailError(cmd, FailedPrecondition("task " + t.task_id() + " ended " + WaitLine(t),
                                      sdk::kTaskNotSucceeded));
}

// ---- result ----

void FetchResult(const TaskFlags& f, const Globals& g) {
  const std::string cmd = "task result";
  Session s = Connect(g, cmd);
  auto files = sdk::FilesClient::Create(s.client.get(),
                                        {.gateway_address = s.gateway, .trust_path = s.trust});
  if (!files.ok()) FailError(cmd, files.error());
  std::unique_ptr<ProgressBar> bar;
  sdk::FetchObserver observer;
  observer.begin = [&](const sdk::OutputToFetch& o) -> sdk::ProgressFn {
    bar = ProgressBar::ForStderr("output " + o.slot, g.json);
    return bar->Callback();
  };
  observer.end = [&](const sdk::OutputToFetch&, const Status&) {
    if (bar) bar->Finish();  // ends the bar's line before any error message
  };
  auto fetched = s.tasks->FetchOutputs(f.task, **files, f.out, observer);
  bar.reset();
  PersistSession(g, *s.client);
  if (!fetched.ok()) FailError(cmd, fetched.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& o : *fetched)
      arr.push_back({{"slot", o.slot}, {"file_id", o.file_id}, {"path", o.path},
                     {"bytes", o.bytes}});
    PrintJson(arr);
    return;
  }
  if (fetched->empty()) {
    std::cout << "Task " << f.task << " has no outputs for you.\n";
    return;
  }
  for (const auto& o : *fetched)
    std::cout << o.slot << " -> " << o.path << " (" << FormatBytes(o.bytes) << ", file "
              << o.file_id << ")\n";
}

// ---- the rest ----

void Run(const std::string& sub, const TaskFlags& f, const Globals& g) {
  const std::string cmd = "task " + sub;
  if (sub == "create") return Create(f, g);
  if (sub == "approve") return Approve(f, g);
  if (sub == "wait") return Wait(f, g);
  if (sub == "result") return FetchResult(f, g);

  tasks::TaskState state_filter = tasks::TASK_STATE_UNSPECIFIED;
  if (sub == "ls") {
    auto st = sdk::ParseTaskState(f.state);
    if (!st.ok()) Usage(cmd, st.error().message());
    state_filter = *st;
  }
  Session s = Connect(g, cmd);
  sdk::Tasks& tc = *s.tasks;
  if (sub == "ls") {
    auto all = tc.ListAll(state_filter, f.limit);
    PersistSession(g, *s.client);
    if (!all.ok()) FailError(cmd, all.error());
    if (g.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& t : *all) arr.push_back(TaskJson(t));
      PrintJson(arr);
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : *all)
      rows.push_back({t.task_id(), sdk::TaskStateName(t.state()), t.function_name(),
                      FormatUnixMs(t.created_unix_ms()),
                      t.missing_size() > 0 ? t.missing(0) : EndText(t)});
    PrintTable({"TASK_ID", "STATE", "FUNCTION", "CREATED", "WAITING FOR / ENDED"}, rows);
    return;
  }
  if (sub == "log") {
    auto events = tc.Log(f.task);
    PersistSession(g, *s.client);
    if (!events.ok()) FailError(cmd, events.error());
    if (g.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : *events) arr.push_back(EventJson(e));
      PrintJson(arr);
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : *events) {
      std::string states = sdk::TaskStateName(e.to_state());
      if (e.from_state() != e.to_state() && e.from_state() != tasks::TASK_STATE_UNSPECIFIED)
        states = sdk::TaskStateName(e.from_state()) + " -> " + states;
      rows.push_back({std::to_string(e.seq()), FormatUnixMs(e.at_unix_ms()),
                      UserLabel(e.actor(), s.self), e.event(), states,
                      e.digest().substr(0, 12), e.detail()});
    }
    PrintTable({"SEQ", "TIME", "ACTOR", "EVENT", "STATE", "DIGEST", "DETAIL"}, rows);
    return;
  }
  if (sub == "show") {
    auto t = tc.Get(f.task);
    PersistSession(g, *s.client);
    if (!t.ok()) FailError(cmd, t.error());
    if (g.json) PrintJson(TaskJson(*t));
    else std::cout << FormatTask(*t, s.self);
    return;
  }
  Result<tasks::Task> r = Internal("no such subcommand");
  std::string what;
  if (sub == "assign") {
    r = tc.Assign(f.task, f.slot, f.file_id);
    what = "Assigned file " + f.file_id + " to slot " + f.slot + " (every approval is voided)";
  } else if (sub == "reject") {
    r = tc.Reject(f.task, f.reason);
    what = "Rejected";
  } else if (sub == "revoke") {
    r = tc.Revoke(f.task);
    what = "Revoked your approval";
  } else if (sub == "invoke") {
    r = tc.Invoke(f.task);
    what = "Invoked";
  } else if (sub == "cancel") {
    r = tc.Cancel(f.task, f.reason);
    what = "Canceled";
  }
  PersistSession(g, *s.client);
  if (!r.ok()) FailError(cmd, r.error());
  PrintChanged(g, *r, what);
}

CommandRegistrar reg("task", [](CLI::App& app, Globals& g) {
  auto* task = app.add_subcommand(
      "task",
      "multi-party tasks: a function version over each party's encrypted inputs, run once every "
      "participant approved its digest");
  task->require_subcommand(1);
  auto add = [&](const std::string& name, const std::string& help) {
    auto flags = std::make_shared<TaskFlags>();
    auto* sub = task->add_subcommand(name, help);
    sub->add_flag("--json", g.json, "machine-readable output");
    sub->callback([flags, &g, name] { Run(name, *flags, g); });
    return std::make_pair(sub, flags);
  };
  auto task_arg = [](CLI::App* sub, TaskFlags& f) {
    sub->add_option("task", f.task, "the task id (32 hex digits)")->required();
  };
  {
    auto [sub, f] = add("create",
                        "create a task: a function version, typed arguments, who supplies each "
                        "input and who receives each output");
    sub->add_option("function", f->function,
                    "version hash (64 hex), or function id (32 hex: its latest version)")
        ->required();
    // One value per flag, so a following positional is never swallowed.
    sub->add_option("--arg", f->args,
                    "NAME=VALUE, typed by the function's spec (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--input", f->inputs,
                    "SLOT=USER: USER (a name or user id) assigns that input (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--output", f->outputs,
                    "SLOT=USER[,USER]: who receives that output, each its own copy (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--description", f->description, "a note for the participants (≤ 4 KiB)");
  }
  {
    auto [sub, f] = add("assign",
                        "assign one of your stored files to your input slot (voids every "
                        "approval)");
    task_arg(sub, *f);
    sub->add_option("slot", f->slot, "the input slot, e.g. set.bank")->required();
    sub->add_option("file_id", f->file_id, "your file (cloister file ls)")->required();
  }
  {
    auto [sub, f] = add("show", "a task: state, digest, what it waits for, slots, approvals");
    task_arg(sub, *f);
  }
  {
    auto [sub, f] = add("approve",
                        "approve exactly the digest you reviewed (checked here against the task "
                        "shown first)");
    task_arg(sub, *f);
    sub->add_option("--digest", f->digest, "the digest you reviewed (cloister task show)");
    sub->add_flag("--yes", f->yes,
                  "without --digest: show the task and approve the digest shown");
  }
  {
    auto [sub, f] = add("reject", "reject the task: it ends, with who and why");
    task_arg(sub, *f);
    sub->add_option("--reason", f->reason, "why, for the other participants (≤ 1 KiB)")
        ->required();
  }
  {
    auto [sub, f] = add("revoke", "withdraw your approval before the task runs");
    task_arg(sub, *f);
  }
  {
    auto [sub, f] = add("invoke", "queue an approved task for an execution worker");
    task_arg(sub, *f);
  }
  {
    auto [sub, f] = add("cancel", "cancel the task before it finishes");
    task_arg(sub, *f);
    sub->add_option("--reason", f->reason, "an optional note (≤ 1 KiB)");
  }
  {
    auto [sub, f] = add("wait",
                        "wait until the task ends (state changes on a terminal); exit 0 only "
                        "if it succeeded");
    task_arg(sub, *f);
    sub->add_option("--timeout", f->timeout_s, "seconds (0: no limit)")->capture_default_str();
  }
  {
    auto [sub, f] = add("result",
                        "download and decrypt your outputs of a succeeded task, one file per "
                        "slot");
    task_arg(sub, *f);
    sub->add_option("-o,--out", f->out, "the directory (created 0700)")->required();
  }
  {
    auto [sub, f] = add("ls", "tasks you participate in, newest first");
    sub->add_option("--state", f->state,
                    "only this state (Created, DataAssigned, Approved, Queued, Running, "
                    "Succeeded, Failed, Canceled, Rejected)");
    sub->add_option("--limit", f->limit, "at most this many (0: all)")->capture_default_str();
  }
  {
    auto [sub, f] = add("log", "the task's transitions: who did what, when, at which digest");
    task_arg(sub, *f);
  }
});

}  // namespace
}  // namespace cloister::cli
