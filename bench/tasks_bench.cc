// Multi-party tasks end to end (issue 13, "Measure"), each figure against a
// one-shot `Call` of the same built-in through the same gateway in the same
// run:
//   1. latency of a trivial two-party task (psi over two 3-id sets):
//      create → assign ×2 → approve ×2 → invoke → Wait → both parties fetch
//      their own output; p50/p99, per-step medians, and the time in the
//      queue (invoked → claimed, from GetTaskLog); anchor: Call(psi) of the
//      same two sets. Goal p50 < 50 ms.
//   2. psi 2×N (N = 1M by default) as a task from two pre-uploaded files
//      (assign, approve, invoke, wait, fetch) against Call(psi) with the
//      same sets inline; goal Call time / task time ≥ 0.7.
//   3. throughput: --tasks trivial tasks created and approved first, then
//      all invoked; tasks/s until every one Succeeded with --workers exec
//      workers, against one-shot Calls/s from as many concurrent clients.
// Starts a real single-node cluster with the CLI in a temporary home (rate
// limits raised so the limiter does not cap the measurement; storage's file
// quota raised for the outputs), two users, `alice` and `bob`.
//
// Each part also prints the CPU each process spent per task, from
// /proc/<pid>/stat. --hold waits after `cluster up` (the home is printed on
// stderr) so gdb can attach to a service: docs/performance.md says how the
// services were profiled and why callgrind and strace cannot watch them.
//
//   build/bin/tasks_bench [--iterations 100] [--tasks 1000] [--psi-n 1000000]
//                         [--workers 2] [--audit-sync always|interval]
//                         [--only latency,psi,throughput] [--hold SECONDS]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "sdk/tasks_client.h"
#include "tests/support/subprocess.h"

namespace {

using namespace cloister;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kPassword = "tasks-bench-password-123";
constexpr auto kWaitTimeout = std::chrono::minutes(10);

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// CPU seconds (user + system) of `pid` from /proc/<pid>/stat.
double CpuSeconds(int pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return 0;
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat->substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The CPU the client and each service spend over a phase, per unit of work.
class CpuMeter {
 public:
  explicit CpuMeter(std::vector<std::pair<std::string, int>> procs) : procs_(std::move(procs)) {
    used_.assign(procs_.size(), 0);
  }
  void Begin() {
    start_.clear();
    for (const auto& p : procs_) start_.push_back(CpuSeconds(p.second));
  }
  void End() {
    for (size_t i = 0; i < procs_.size(); ++i) used_[i] += CpuSeconds(procs_[i].second) - start_[i];
  }
  // "  client 3.1  gateway 2.0 ..." in ms per `units`, busiest first.
  std::string PerUnit(double units) const {
    std::vector<std::pair<double, std::string>> v;
    double total = 0;
    for (size_t i = 0; i < procs_.size(); ++i) {
      v.emplace_back(used_[i] * 1000 / units, procs_[i].first);
      total += used_[i] * 1000 / units;
    }
    std::sort(v.rbegin(), v.rend());
    char buf[64];
    std::snprintf(buf, sizeof buf, "total %.1f:", total);
    std::string out = buf;
    for (const auto& [ms, name] : v) {
      std::snprintf(buf, sizeof buf, "  %s %.1f", name.c_str(), ms);
      out += buf;
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, int>> procs_;
  std::vector<double> start_, used_;
};

std::string LoadAverage() {
  auto text = ReadFile("/proc/loadavg", 256);
  if (!text.ok()) return "?";
  return text->substr(0, text->find(' ', text->find(' ', text->find(' ') + 1) + 1));
}

// The cluster, driven through the CLI exactly as an operator would; down on
// destruction.
class Cluster {
 public:
  ~Cluster() {
    if (up_) (void)Cli({"cluster", "down"});
  }

  Result<nlohmann::json> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {CLOISTER_CLI_BIN, "--home", home_, "--json"});
    auto r = testing::RunProcess(args, std::chrono::seconds(300));
    if (!r.ok()) return r.error();
    if (r->exit_code != 0)
      return Internal("cloister " + args[4] + " " + (args.size() > 5 ? args[5] : "") +
                      " failed:\n" + r->out + r->err);
    return nlohmann::json::parse(r->out, nullptr, false);
  }

  Status Start(const std::string& audit_sync, int workers, int security_level) {
    CLOISTER_ASSIGN_OR_RETURN(auto init, Cli({"cluster", "init", "--gateway-port", "0",
                                              "--security-level", std::to_string(security_level)}));
    if (!init.is_object()) return Internal("cluster init printed no JSON object");
    gateway_ = init.value("gateway", "");
    password_ = init.value("admin_password", "");
    auto edit = [](std::string& text, const std::string& key, const std::string& value) {
      const std::regex re("(^|\n)" + key + " *= *[^\n]*");
      if (!std::regex_search(text, re)) return false;
      text = std::regex_replace(text, re, "$1" + key + " = " + value);
      return true;
    };
    CLOISTER_ASSIGN_OR_RETURN(std::string toml, ReadFile(home_ + "/cluster.toml", 1 << 20));
    bool ok = edit(toml, "audit_sync", "\"" + audit_sync + "\"") &&
              edit(toml, "task_workers", std::to_string(workers)) &&
              // Every task leaves one output file per party.
              edit(toml, "quota_files", "10000000");
    if (!ok) return Internal("cluster.toml lacks audit_sync, task_workers or quota_files");
    CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(home_ + "/cluster.toml", toml, 0644));
    // Raise the limiter: this measures the pipeline, not the token bucket.
    CLOISTER_ASSIGN_OR_RETURN(std::string policy, ReadFile(home_ + "/policy.toml", 1 << 20));
    ok = edit(policy, "per_principal_rps", "10000000") &&
         edit(policy, "per_principal_burst", "10000000");
    if (!ok) return Internal("policy.toml lacks per_principal_rps / per_principal_burst");
    CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(home_ + "/policy.toml", policy, 0644));
    // Both files are part of the enclaves' signed configuration: re-sign.
    CLOISTER_RETURN_IF_ERROR(Cli({"cluster", "manifest"}).status());
    up_ = true;
    return Cli({"cluster", "up"}).status();
  }

  sdk::ClientOptions options() const {
    return {.gateway_address = gateway_, .trust_path = home_ + "/trust.toml"};
  }
  const std::string& admin_password() const { return password_; }
  const std::string& scratch() const { return dir_.path(); }
  const std::string& home() const { return home_; }
  // This process and every service of the cluster, from their pid files.
  std::vector<std::pair<std::string, int>> Processes() const {
    std::vector<std::pair<std::string, int>> out = {{"client", static_cast<int>(getpid())}};
    for (const char* svc : {"platform", "auth", "keyvault", "storage", "tasks", "exec", "gateway"}) {
      auto text = ReadFile(home_ + "/run/" + svc + ".pid", 64);
      if (text.ok() && !text->empty()) out.emplace_back(svc, std::atoi(text->c_str()));
    }
    return out;
  }

 private:
  testing::TempDir dir_;
  std::string home_ = dir_.path() + "/home";
  std::string gateway_, password_;
  bool up_ = false;
};

struct Party {
  std::string name, id;
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::FilesClient> files;
  std::unique_ptr<sdk::Tasks> tasks;
};

Result<Party> Login(const Cluster& c, const std::string& name, const std::string& id) {
  Party p;
  p.name = name;
  p.id = id;
  CLOISTER_ASSIGN_OR_RETURN(p.client, sdk::Client::Connect(c.options()));
  CLOISTER_RETURN_IF_ERROR(p.client->Login(name, kPassword).status());
  CLOISTER_ASSIGN_OR_RETURN(p.files, sdk::FilesClient::Create(p.client.get(), c.options()));
  CLOISTER_ASSIGN_OR_RETURN(p.tasks, sdk::Tasks::Create(p.client.get(), c.options()));
  return p;
}

Result<std::string> Upload(Party& p, const std::string& text) {
  std::istringstream in(text);
  CLOISTER_ASSIGN_OR_RETURN(auto info, p.files->Upload(in, text.size()));
  return info.file_id();
}

// Two parties' sets for psi, as builtin_bench makes them: half of each set
// shared, half the party's own, shuffled, one id per line.
std::pair<std::string, std::string> PsiSets(size_t n) {
  std::mt19937_64 rng(7);
  std::vector<std::string> shared(n / 2);
  char buf[40];
  for (auto& s : shared) {
    std::snprintf(buf, sizeof buf, "%016llx@example.org", static_cast<unsigned long long>(rng()));
    s = buf;
  }
  std::string texts[2];
  for (int p = 0; p < 2; ++p) {
    std::vector<std::string> ids = shared;
    for (size_t i = n / 2; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%016llx@party%d.net", static_cast<unsigned long long>(rng()),
                    p);
      ids.push_back(buf);
    }
    std::shuffle(ids.begin(), ids.end(), rng);
    for (const auto& id : ids) texts[p] += id + "\n";
  }
  return {std::move(texts[0]), std::move(texts[1])};
}

// Everything the benchmark shares: the cluster's two parties and psi.
struct Bench {
  Cluster* cluster;
  Party* alice;
  Party* bob;
  std::string psi_hash;

  // Creates a two-party psi task over alice's and bob's files, assigns
  // both, checks the digest shown (as a careful client does) and has both
  // approve it. `steps` gets each step's milliseconds when not null.
  Result<std::string> Prepare(const std::string& alice_file, const std::string& bob_file,
                              std::vector<std::pair<const char*, double>>* steps = nullptr) {
    auto t = Clock::now();
    auto step = [&](const char* name) {
      const auto now = Clock::now();
      if (steps != nullptr) steps->emplace_back(name, Ms(t, now));
      t = now;
    };
    CLOISTER_ASSIGN_OR_RETURN(
        tasks::Task task,
        alice->tasks->Create(psi_hash, {}, {{"set.alice", alice->id}, {"set.bob", bob->id}},
                             {{"result.alice", {alice->id}}, {"result.bob", {bob->id}}}));
    step("create");
    CLOISTER_RETURN_IF_ERROR(alice->tasks->Assign(task.task_id(), "set.alice", alice_file).status());
    step("assign alice");
    CLOISTER_ASSIGN_OR_RETURN(task, bob->tasks->Assign(task.task_id(), "set.bob", bob_file));
    step("assign bob");
    CLOISTER_RETURN_IF_ERROR(sdk::VerifyTaskDigest(task));
    CLOISTER_RETURN_IF_ERROR(alice->tasks->Approve(task.task_id(), task.digest()).status());
    step("approve alice");
    CLOISTER_ASSIGN_OR_RETURN(task, bob->tasks->Approve(task.task_id(), task.digest()));
    step("approve bob");
    if (task.state() != tasks::TASK_STATE_APPROVED)
      return Internal("task " + task.task_id() + " is " + sdk::TaskStateName(task.state()) +
                      " after both approvals");
    return task.task_id();
  }

  // Waits for `task_id` and requires success.
  Result<tasks::Task> WaitSucceeded(Party& p, const std::string& task_id) {
    CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, p.tasks->Wait(task_id, {.timeout = kWaitTimeout}));
    if (t.state() != tasks::TASK_STATE_SUCCEEDED)
      return Internal("task " + task_id + " ended " + sdk::TaskStateName(t.state()) + ": " +
                      t.end().reason() + " " + t.end().message());
    return t;
  }

  // One party's own output of a succeeded task, decrypted.
  Result<std::string> Fetch(Party& p, const std::string& task_id) {
    const std::string dir = cluster->scratch() + "/out-" + p.name + "-" + task_id;
    CLOISTER_ASSIGN_OR_RETURN(auto outs, p.tasks->FetchOutputs(task_id, *p.files, dir));
    if (outs.size() != 1) return Internal(p.name + " got " + std::to_string(outs.size()) + " outputs");
    CLOISTER_ASSIGN_OR_RETURN(std::string bytes, ReadFile(outs[0].path, uint64_t{1} << 32));
    fs::remove_all(dir);
    return bytes;
  }

  Result<api::CallResponse> Call(const std::string& a, const std::string& b) {
    return alice->client->Call("psi", sdk::StringArguments{}, {{"set.alice", a}, {"set.bob", b}});
  }
};

// invoked → claimed → succeeded (server clock, ms) from a task's log.
struct Timeline {
  int64_t invoked = 0, claimed = 0, succeeded = 0;
};
Result<Timeline> TimelineOf(Party& p, const std::string& task_id) {
  CLOISTER_ASSIGN_OR_RETURN(auto events, p.tasks->Log(task_id));
  Timeline t;
  for (const auto& e : events) {
    if (e.event() == "invoked" && t.invoked == 0) t.invoked = e.at_unix_ms();
    if (e.event() == "claimed") t.claimed = e.at_unix_ms();  // the last claim ran it
    if (e.event() == "succeeded") t.succeeded = e.at_unix_ms();
  }
  if (t.invoked == 0 || t.claimed == 0 || t.succeeded == 0)
    return Internal("task " + task_id + ": log lacks invoked/claimed/succeeded");
  return t;
}

// ------------------------------------------------------------ 1. latency

Status BenchLatency(Bench& b, int iterations) {
  const std::string a_set = "a@x.org\nb@x.org\nc@x.org\n", b_set = "b@x.org\nc@x.org\nd@x.org\n";
  CLOISTER_ASSIGN_OR_RETURN(std::string a_file, Upload(*b.alice, a_set));
  CLOISTER_ASSIGN_OR_RETURN(std::string b_file, Upload(*b.bob, b_set));
  CLOISTER_ASSIGN_OR_RETURN(auto reference, b.Call(a_set, b_set));
  const std::string want_a = reference.outputs().at("result.alice");
  const std::string want_b = reference.outputs().at("result.bob");

  CpuMeter cpu(b.cluster->Processes()), call_cpu(b.cluster->Processes());
  std::vector<double> e2e, queue, run, call;
  std::map<std::string, std::vector<double>> steps;
  std::vector<std::string> order;
  for (int i = 0; i < iterations + 2; ++i) {  // the first two warm up
    std::vector<std::pair<const char*, double>> st;
    if (i >= 2) cpu.Begin();
    const auto t0 = Clock::now();
    CLOISTER_ASSIGN_OR_RETURN(std::string id, b.Prepare(a_file, b_file, &st));
    auto t = Clock::now();
    CLOISTER_RETURN_IF_ERROR(b.alice->tasks->Invoke(id).status());
    st.emplace_back("invoke", Ms(t, Clock::now()));
    t = Clock::now();
    CLOISTER_RETURN_IF_ERROR(b.WaitSucceeded(*b.alice, id).status());
    st.emplace_back("wait", Ms(t, Clock::now()));
    // The two parties are two organisations on their own machines: each
    // fetches its own output when the task is done, at the same time.
    t = Clock::now();
    Result<std::string> got_b_or = Internal("not fetched");
    std::thread bob_fetch([&] { got_b_or = b.Fetch(*b.bob, id); });
    auto got_a_or = b.Fetch(*b.alice, id);
    bob_fetch.join();
    const auto t1 = Clock::now();
    CLOISTER_ASSIGN_OR_RETURN(std::string got_a, std::move(got_a_or));
    CLOISTER_ASSIGN_OR_RETURN(std::string got_b, std::move(got_b_or));
    st.emplace_back("fetch both, concurrently", Ms(t, t1));
    if (i >= 2) cpu.End();
    if (got_a != want_a || got_b != want_b)
      return Internal("task " + id + ": outputs differ from Call(psi)'s");
    // The anchor, interleaved so both see the same load.
    if (i >= 2) call_cpu.Begin();
    const auto c0 = Clock::now();
    CLOISTER_ASSIGN_OR_RETURN(auto resp, b.Call(a_set, b_set));
    const auto c1 = Clock::now();
    if (i >= 2) call_cpu.End();
    if (resp.outputs().at("result.alice") != want_a) return Internal("Call(psi) changed its answer");
    if (i < 2) continue;
    CLOISTER_ASSIGN_OR_RETURN(Timeline tl, TimelineOf(*b.alice, id));
    e2e.push_back(Ms(t0, t1));
    call.push_back(Ms(c0, c1));
    queue.push_back(static_cast<double>(tl.claimed - tl.invoked));
    run.push_back(static_cast<double>(tl.succeeded - tl.claimed));
    for (auto& [name, ms] : st) {
      if (!steps.count(name)) order.push_back(name);
      steps[name].push_back(ms);
    }
  }
  std::printf("== 1. trivial two-party task (psi over 2 x 3 ids), %d iterations ==\n", iterations);
  std::printf("  anchor  one-shot Call(psi) through the gateway   p50 %8.2f ms  p99 %8.2f ms\n",
              Percentile(call, 0.5), Percentile(call, 0.99));
  std::printf("  task    create .. both outputs fetched         p50 %8.2f ms  p99 %8.2f ms"
              "   %.1fx the Call p50\n",
              Percentile(e2e, 0.5), Percentile(e2e, 0.99),
              Percentile(e2e, 0.5) / std::max(1e-9, Percentile(call, 0.5)));
  std::printf("    of which in the queue (invoked -> claimed)   p50 %8.0f ms  p99 %8.0f ms"
              "   (server clock, ms)\n",
              Percentile(queue, 0.5), Percentile(queue, 0.99));
  std::printf("    worker run (claimed -> succeeded)            p50 %8.0f ms  p99 %8.0f ms\n",
              Percentile(run, 0.5), Percentile(run, 0.99));
  std::printf("    client steps, p50:");
  for (const auto& name : order) std::printf("  %s %.2f", name.c_str(), Percentile(steps[name], 0.5));
  std::printf(" (ms)\n");
  std::printf("    cpu per task (ms), %s\n", cpu.PerUnit(iterations).c_str());
  std::printf("    cpu per Call (ms), %s\n", call_cpu.PerUnit(iterations).c_str());
  std::printf("  goal: p50 < 50 ms on loopback: %s\n",
              Percentile(e2e, 0.5) < 50 ? "met" : "NOT met");
  return OkStatus();
}

// ------------------------------------------------------------ 2. psi 2×N

struct PsiRound {
  double task_ms = 0, call_ms = 0;
};

Result<PsiRound> PsiOnce(Bench& b, const std::string& a_set, const std::string& b_set,
                         const std::string& a_file, const std::string& b_file, bool with_call,
                         size_t* out_lines) {
  PsiRound r;
  const auto t0 = Clock::now();
  CLOISTER_ASSIGN_OR_RETURN(std::string id, b.Prepare(a_file, b_file));
  CLOISTER_RETURN_IF_ERROR(b.alice->tasks->Invoke(id).status());
  CLOISTER_RETURN_IF_ERROR(b.WaitSucceeded(*b.alice, id).status());
  CLOISTER_ASSIGN_OR_RETURN(std::string got_a, b.Fetch(*b.alice, id));
  CLOISTER_ASSIGN_OR_RETURN(std::string got_b, b.Fetch(*b.bob, id));
  r.task_ms = Ms(t0, Clock::now());
  *out_lines = static_cast<size_t>(std::count(got_a.begin(), got_a.end(), '\n'));
  if (!with_call) return r;
  const auto c0 = Clock::now();
  CLOISTER_ASSIGN_OR_RETURN(auto resp, b.Call(a_set, b_set));
  r.call_ms = Ms(c0, Clock::now());
  if (resp.outputs().at("result.alice") != got_a || resp.outputs().at("result.bob") != got_b)
    return Internal("psi task " + id + ": outputs differ from Call(psi)'s");
  return r;
}

Status BenchPsi(Bench& b, size_t n, int rounds) {
  std::printf("== 2. psi 2 x %zu as a task vs one-shot Call, best of %d ==\n", n, rounds);
  auto [a_set, b_set] = PsiSets(n);
  const auto u0 = Clock::now();
  CLOISTER_ASSIGN_OR_RETURN(std::string a_file, Upload(*b.alice, a_set));
  CLOISTER_ASSIGN_OR_RETURN(std::string b_file, Upload(*b.bob, b_set));
  const double upload_ms = Ms(u0, Clock::now());
  std::printf("  (not timed below) both parties upload their set: %.0f ms for %.1f MB\n",
              upload_ms, static_cast<double>(a_set.size() + b_set.size()) / 1e6);

  // Can one Call carry both sets? Its request and response are single gRPC
  // messages (64 MiB at the SDK, the gateway and exec).
  size_t call_n = n;
  std::string ca = a_set, cb = b_set;
  for (;;) {
    auto probe = b.Call(ca, cb);
    if (probe.ok()) break;
    if (probe.error().code() != Code::kResourceExhausted || call_n < 1000)
      return probe.error().WithContext("Call(psi) 2 x " + std::to_string(call_n));
    std::printf("  one-shot Call cannot take 2 x %zu (%.1f MB of inputs): %s\n", call_n,
                static_cast<double>(ca.size() + cb.size()) / 1e6,
                probe.error().ToString().c_str());
    call_n /= 2;
    std::tie(ca, cb) = PsiSets(call_n);
  }
  std::string ca_file = a_file, cb_file = b_file;
  if (call_n != n) {
    std::printf("  the largest size both can do here: 2 x %zu\n", call_n);
    CLOISTER_ASSIGN_OR_RETURN(ca_file, Upload(*b.alice, ca));
    CLOISTER_ASSIGN_OR_RETURN(cb_file, Upload(*b.bob, cb));
  }

  PsiRound best{1e18, 1e18}, best_full{1e18, 0};
  size_t lines = 0;
  for (int r = 0; r < rounds; ++r) {
    CLOISTER_ASSIGN_OR_RETURN(PsiRound one, PsiOnce(b, ca, cb, ca_file, cb_file, true, &lines));
    std::printf("    round %d: task %.0f ms, Call %.0f ms\n", r + 1, one.task_ms, one.call_ms);
    best.task_ms = std::min(best.task_ms, one.task_ms);
    best.call_ms = std::min(best.call_ms, one.call_ms);
    if (call_n != n) {
      size_t full_lines = 0;
      CLOISTER_ASSIGN_OR_RETURN(PsiRound full, PsiOnce(b, a_set, b_set, a_file, b_file, false,
                                                        &full_lines));
      best_full.task_ms = std::min(best_full.task_ms, full.task_ms);
    }
  }
  std::printf("  anchor  one-shot Call(psi) 2 x %zu, inputs inline   %8.0f ms\n", call_n,
              best.call_ms);
  std::printf("  task    psi 2 x %zu assign .. both outputs fetched  %8.0f ms  "
              "(|intersection| = %zu)\n",
              call_n, best.task_ms, lines);
  const double ratio = best.call_ms / best.task_ms;
  std::printf("  task throughput = %.0f %% of Call's (Call time / task time); goal >= 70 %%: %s\n",
              100 * ratio, ratio >= 0.7 ? "met" : "NOT met");
  if (call_n == n)
    std::printf("  counting both uploads as part of the task (%.0f ms): %.0f %% of Call's\n",
                upload_ms, 100 * best.call_ms / (best.task_ms + upload_ms));
  if (call_n != n)
    std::printf("  task    psi 2 x %zu (too large for one Call)          %8.0f ms\n", n,
                best_full.task_ms);
  return OkStatus();
}

// ------------------------------------------------------------ 3. throughput

// Runs fn(i) for i in [0, n) on `threads` threads; the first error wins.
Status ParallelFor(int threads, size_t n, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
        Status st = fn(i);
        if (!st.ok()) {
          std::lock_guard<std::mutex> l(mu);
          if (first.ok()) first = st;
          next = n;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return first;
}

Status BenchThroughput(Bench& b, size_t n, int workers, int client_threads) {
  std::printf("== 3. throughput: %zu trivial tasks, %d exec workers ==\n", n, workers);
  const std::string a_set = "a@x.org\nb@x.org\nc@x.org\n", b_set = "b@x.org\nc@x.org\nd@x.org\n";
  CLOISTER_ASSIGN_OR_RETURN(std::string a_file, Upload(*b.alice, a_set));
  CLOISTER_ASSIGN_OR_RETURN(std::string b_file, Upload(*b.bob, b_set));

  std::vector<std::string> ids(n);
  auto s0 = Clock::now();
  CLOISTER_RETURN_IF_ERROR(ParallelFor(client_threads, n, [&](size_t i) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(ids[i], b.Prepare(a_file, b_file));
    return OkStatus();
  }));
  const auto s1 = Clock::now();
  std::printf("  (not timed below) %zu tasks created, assigned and approved by both in %.1f s "
              "(%d client threads, %.0f tasks/s)\n",
              n, Ms(s0, s1) / 1000, client_threads, n / (Ms(s0, s1) / 1000));

  CpuMeter cpu(b.cluster->Processes());
  cpu.Begin();
  const auto t0 = Clock::now();
  CLOISTER_RETURN_IF_ERROR(ParallelFor(client_threads, n, [&](size_t i) {
    return b.alice->tasks->Invoke(ids[i]).status();
  }));
  const auto t_invoked = Clock::now();
  std::atomic<size_t> failed{0};
  std::string first_failure;
  std::mutex mu;
  CLOISTER_RETURN_IF_ERROR(ParallelFor(client_threads, n, [&](size_t i) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, b.alice->tasks->Wait(ids[i], {.timeout = kWaitTimeout}));
    if (t.state() != tasks::TASK_STATE_SUCCEEDED && failed.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> l(mu);
      first_failure = sdk::TaskStateName(t.state()) + " " + t.end().reason() + " " + t.end().message();
    }
    return OkStatus();
  }));
  const auto t1 = Clock::now();
  cpu.End();
  if (failed > 0)
    return Internal(std::to_string(failed.load()) + " tasks did not succeed, e.g. " + first_failure);

  // The server's own clock: first invocation to last success.
  std::vector<Timeline> tl(n);
  CLOISTER_RETURN_IF_ERROR(ParallelFor(client_threads, n, [&](size_t i) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(tl[i], TimelineOf(*b.alice, ids[i]));
    return OkStatus();
  }));
  int64_t first_invoked = INT64_MAX, last_done = 0;
  std::vector<double> run;
  for (const auto& t : tl) {
    first_invoked = std::min(first_invoked, t.invoked);
    last_done = std::max(last_done, t.succeeded);
    run.push_back(static_cast<double>(t.succeeded - t.claimed));
  }
  const double server_s = static_cast<double>(last_done - first_invoked) / 1000;
  const double client_s = Ms(t0, t1) / 1000;

  // The anchor: as many one-shot Calls of the same function, from as many
  // concurrent clients as there are workers.
  CpuMeter call_cpu(b.cluster->Processes());
  call_cpu.Begin();
  const auto c0 = Clock::now();
  CLOISTER_RETURN_IF_ERROR(ParallelFor(workers, n, [&](size_t) {
    return b.Call(a_set, b_set).status();
  }));
  const double call_s = Ms(c0, Clock::now()) / 1000;
  call_cpu.End();

  std::printf("  anchor  %zu one-shot Call(psi), %d concurrent clients   %8.1f calls/s\n", n,
              workers, n / call_s);
  std::printf("  tasks   invoke all (%d threads, %.1f s) .. all Succeeded: %.1f s = %8.1f tasks/s"
              "   %.0f %% of the Call rate\n",
              client_threads, Ms(t0, t_invoked) / 1000, client_s, n / client_s,
              100 * (n / client_s) / (n / call_s));
  std::printf("          server clock, first invoked .. last succeeded: %.1f s = %.1f tasks/s; "
              "worker run p50 %.0f ms, p99 %.0f ms\n",
              server_s, n / std::max(server_s, 1e-3), Percentile(run, 0.5), Percentile(run, 0.99));
  std::printf("          cpu per task from invoke to success (ms), %s\n",
              cpu.PerUnit(static_cast<double>(n)).c_str());
  std::printf("          cpu per one-shot Call (ms), %s\n",
              call_cpu.PerUnit(static_cast<double>(n)).c_str());
  return OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("tasks_bench: multi-party tasks end to end vs one-shot Call, on a real cluster");
  int iterations = 100, workers = 2, client_threads = 8, psi_rounds = 2, security_level = 2;
  size_t n_tasks = 1000, psi_n = 1'000'000;
  std::string audit_sync = "always", only = "latency,psi,throughput";
  double hold_s = 0;
  app.add_option("--iterations", iterations, "latency: tasks measured one after another")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--tasks", n_tasks, "throughput: tasks in the queue")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--psi-n", psi_n, "psi: ids per party")
      ->check(CLI::Range(size_t{2}, size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--psi-rounds", psi_rounds, "psi: alternating rounds (best is shown)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--workers", workers, "exec task workers ([exec] task_workers)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--client-threads", client_threads,
                 "throughput: client threads preparing, invoking and waiting")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--audit-sync", audit_sync, "[cluster] audit_sync")
      ->check(CLI::IsMember({"always", "interval"}))
      ->capture_default_str();
  app.add_option("--security-level", security_level, "cluster init --security-level")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  app.add_option("--hold", hold_s, "seconds to wait after the cluster is up (to attach tools)")
      ->capture_default_str();
  app.add_option("--only", only, "comma-separated parts to run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto want = [&](const std::string& part) { return only.find(part) != std::string::npos; };

  Cluster cluster;
  auto fail = [](const char* what, const Status& st) {
    std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
    return 1;
  };
  if (Status st = cluster.Start(audit_sync, workers, security_level); !st.ok())
    return fail("cluster", st);
  // For attaching strace or reading a service's log while it runs.
  std::fprintf(stderr, "# cluster home: %s\n", cluster.home().c_str());
  if (hold_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold_s));
  auto admin = sdk::Client::Connect(cluster.options());
  if (!admin.ok()) return fail("connect", admin.status());
  if (Status st = (*admin)->Login("admin", cluster.admin_password()).status(); !st.ok())
    return fail("admin login", st);
  Party parties[2];
  const char* names[2] = {"alice", "bob"};
  for (int i = 0; i < 2; ++i) {
    auto u = (*admin)->CreateUser(names[i], kPassword);
    if (!u.ok()) return fail("create user", u.status());
    auto p = Login(cluster, names[i], u->user_id());
    if (!p.ok()) return fail("login", p.status());
    parties[i] = std::move(*p);
  }
  auto fn = parties[0].tasks->functions().RegisterBuiltin("psi", {.is_public = true});
  if (!fn.ok()) return fail("register psi", fn.status());
  Bench b{&cluster, &parties[0], &parties[1], fn->function().hash()};

  std::printf("# tasks_bench: audit_sync=%s, %d exec workers, security level %d,\n"
              "# loopback, %u cores shared by the client and every service; load average %s\n",
              audit_sync.c_str(), workers, security_level, std::thread::hardware_concurrency(),
              LoadAverage().c_str());
  if (want("latency"))
    if (Status st = BenchLatency(b, iterations); !st.ok()) return fail("latency", st);
  if (want("psi"))
    if (Status st = BenchPsi(b, psi_n, psi_rounds); !st.ok()) return fail("psi", st);
  if (want("throughput"))
    if (Status st = BenchThroughput(b, n_tasks, workers, client_threads); !st.ok())
      return fail("throughput", st);
  std::printf("# load average at the end %s\n", LoadAverage().c_str());
  return 0;
}
