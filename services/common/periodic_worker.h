// PeriodicWorker: a thread that runs one job every `period` until it is
// stopped, for a service's background sweeps (storage collects expired
// uploads, tasks expires leases). Stop() (or destruction) wakes it at once
// and joins, so the job never outlives what it uses.
//
//   services::PeriodicWorker collector(std::chrono::minutes(1), [&] { core->CollectExpired(); });
//   int rc = runner.Serve({&svc});
//   collector.Stop();
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace cloister::services {

class PeriodicWorker {
 public:
  // The first run is one `period` after construction.
  PeriodicWorker(std::chrono::milliseconds period, std::function<void()> job)
      : thread_([this, period, job = std::move(job)](std::stop_token stop) {
          std::unique_lock lock(mu_);
          for (;;) {
            // Wakes after `period`, or at once when stopped.
            (void)cv_.wait_for(lock, stop, period, [] { return false; });
            if (stop.stop_requested()) return;
            lock.unlock();
            job();
            lock.lock();
          }
        }) {}
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;
  ~PeriodicWorker() { Stop(); }

  // Idempotent; a job in progress finishes first.
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::jthread thread_;  // last: starts after mu_/cv_ exist, joins before they go
};

}  // namespace cloister::services
