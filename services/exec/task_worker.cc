// The task worker pool; see task_worker.h.
#include "services/exec/task_worker.h"

#include <unistd.h>

#include <algorithm>

#include "common/logging.h"

namespace cloister::exec {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kCountersLogEveryMs = 60'000;
constexpr int64_t kClaimErrorLogEveryMs = 30'000;
constexpr size_t kMaxWorkerIdBytes = 128;

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Whether `last` is at least `every` ms old; if so it becomes now (one
// thread wins the race to log).
bool Due(std::atomic<int64_t>& last, int64_t every) {
  const int64_t now = NowMs();
  int64_t seen = last.load();
  return now - seen >= every && last.compare_exchange_strong(seen, now);
}

}  // namespace

int ClampWorkers(int requested) {
  if (requested <= 0) return 0;
  return std::min(requested, kMaxTaskWorkers);
}

std::string DefaultWorkerName() {
  char host[256] = {};
  std::string name = "exec";
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') name = host;
  return name.substr(0, 96) + "-" + std::to_string(::getpid());
}

WorkerPool::WorkerPool(TaskIo* io, WorkerPoolOptions opts)
    : io_(io), opts_(std::move(opts)), runner_(io, opts_.runner) {
  opts_.workers = ClampWorkers(opts_.workers);
  if (opts_.idle_min.count() <= 0) opts_.idle_min = milliseconds(1);
  opts_.idle_max = std::max(opts_.idle_max, opts_.idle_min);
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (started_) return;
  started_ = true;
  live_ = opts_.workers;
  for (int n = 0; n < opts_.workers; ++n) threads_.emplace_back([this, n] { Loop(n); });
  LOG_INFO("task workers started",
           {{"workers", opts_.workers}, {"name", opts_.name},
            {"forked_lua", opts_.runner.forked_lua ? "true" : "false"},
            {"max_input_bytes", opts_.runner.max_input_bytes}});
}

bool WorkerPool::Stop(milliseconds grace) {
  stopping_.store(true);
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.notify_all();
    auto done = [this] { return live_ == 0; };
    if (grace == milliseconds::max()) {
      cv_.wait(l, done);
    } else if (!cv_.wait_for(l, grace, done)) {
      LOG_WARN("task workers still running at shutdown; their leases will expire",
               {{"running", live_}});
      return false;
    }
  }
  // Every thread has left its loop: joining returns at once.
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  MaybeLogCounters(true);
  return true;
}

void WorkerPool::Loop(int n) {
  std::string id = opts_.name.substr(0, kMaxWorkerIdBytes - 8) + "/" + std::to_string(n);
  milliseconds idle = opts_.idle_min;
  while (!stopping_.load()) {
    const auto asked = std::chrono::steady_clock::now();
    auto claimed = io_->Claim(id, opts_.claim_wait);
    if (claimed.ok() && claimed->has_value()) {
      claims_++;
      running_++;
      TaskResult r = runner_.Run(**claimed, stopping_);
      running_--;
      Count(r.outcome);
      idle = opts_.idle_min;
      MaybeLogCounters(false);
      continue;
    }
    if (claimed.ok() && std::chrono::steady_clock::now() - asked >= opts_.claim_wait / 2) {
      idle = opts_.idle_min;  // the long poll waited: ask again at once
      continue;
    }
    if (!claimed.ok()) {
      claim_errors_++;
      // tasks down or starting: say so now and then, not every poll.
      if (Due(last_claim_error_log_ms_, kClaimErrorLogEveryMs))
        LOG_WARN("cannot claim tasks", {{"worker", id}, {"error", claimed.error().ToString()}});
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, idle, [this] { return stopping_.load(); });
    idle = std::min(idle * 2, opts_.idle_max);
  }
  std::lock_guard<std::mutex> l(mu_);
  if (--live_ == 0) cv_.notify_all();
}

void WorkerPool::Count(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded: succeeded_++; break;
    case Outcome::kFailed: failed_++; break;
    case Outcome::kRequeued: requeued_++; break;
    case Outcome::kLeaseLost: lease_lost_++; break;
    case Outcome::kRefused: refused_++; break;
    case Outcome::kStopped: stopped_++; break;
    case Outcome::kUnreported: unreported_++; break;
  }
}

std::map<std::string, uint64_t> WorkerPool::Counters() const {
  return {{"claims", claims_.load()},         {"claim_errors", claim_errors_.load()},
          {"succeeded", succeeded_.load()},   {"failed", failed_.load()},
          {"requeued", requeued_.load()},     {"lease_lost", lease_lost_.load()},
          {"refused", refused_.load()},       {"stopped", stopped_.load()},
          {"unreported", unreported_.load()}, {"running", running_.load()}};
}

void WorkerPool::MaybeLogCounters(bool force) {
  // The exec Health response (cloister.api.HealthResponse) has no counters
  // field, so they go to the log.
  if (!force && !Due(last_counters_log_ms_, kCountersLogEveryMs)) return;
  LOG_INFO("task worker counters",
           {{"claims", claims_.load()}, {"claim_errors", claim_errors_.load()},
            {"succeeded", succeeded_.load()}, {"failed", failed_.load()},
            {"requeued", requeued_.load()}, {"lease_lost", lease_lost_.load()},
            {"refused", refused_.load()}, {"stopped", stopped_.load()},
            {"unreported", unreported_.load()}, {"running", running_.load()}});
}

}  // namespace cloister::exec
