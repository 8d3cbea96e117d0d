// The task worker pool of cloister-exec (docs/exec.md): N threads, each
// claiming the next queued task from cloister-tasks and running it
// (task_runner.h); with nothing to do a thread sleeps 50 ms, doubling to
// 1 s, and starts again at 50 ms after a claim, so a queued task waits at
// most about a second for an idle worker.
//
//   WorkerPool pool(io.get(), WorkerPoolOptions{.workers = ClampWorkers(flag), …});
//   pool.Start();
//   … runner.Serve(…) …
//   if (!pool.Stop(std::chrono::seconds(5))) std::_Exit(rc);   // a function still runs
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/exec/task_io.h"
#include "services/exec/task_runner.h"

namespace cloister::exec {

inline constexpr int kMaxTaskWorkers = 64;

// --task-workers: 0 (no pulling) stays 0; otherwise 1..64.
int ClampWorkers(int requested);
// "<hostname>-<pid>": the prefix of this process's worker ids.
std::string DefaultWorkerName();

struct WorkerPoolOptions {
  int workers = 2;
  std::string name = DefaultWorkerName();  // worker n's id: "<name>/<n>"
  // Each claim is a long poll of this long (tasks answers when a task is
  // queued); a claim that fails, or returns empty much sooner (a tasks
  // without long polls), backs off idle_min doubling to idle_max.
  std::chrono::milliseconds claim_wait{1000};
  std::chrono::milliseconds idle_min{50};
  std::chrono::milliseconds idle_max{1000};
  RunnerOptions runner;
};

class WorkerPool {
 public:
  // `io` must outlive the pool.
  WorkerPool(TaskIo* io, WorkerPoolOptions opts);
  ~WorkerPool();  // Stop() without a limit
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();
  // Asks every worker to stop (a running task is handed back retryable at
  // its next step; a function already running finishes first) and waits up
  // to `grace`. False if a worker is still running then: the caller should
  // end the process (the task's lease expires and it is retried).
  bool Stop(std::chrono::milliseconds grace = std::chrono::milliseconds::max());

  // Since start: claims, claim_errors, succeeded, failed, requeued,
  // lease_lost, refused, stopped, unreported; and now: running.
  std::map<std::string, uint64_t> Counters() const;

 private:
  void Loop(int n);
  void Count(Outcome o);
  void MaybeLogCounters(bool force);

  TaskIo* io_;
  WorkerPoolOptions opts_;
  TaskRunner runner_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;      // wakes idle workers on Stop; signals exits
  int live_ = 0;                    // guarded by mu_
  bool started_ = false;            // guarded by mu_
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> claims_{0}, claim_errors_{0}, succeeded_{0}, failed_{0},
      requeued_{0}, lease_lost_{0}, refused_{0}, stopped_{0}, unreported_{0}, running_{0};
  std::atomic<int64_t> last_counters_log_ms_{0};
  std::atomic<int64_t> last_claim_error_log_ms_{0};
};

}  // namespace cloister::exec
