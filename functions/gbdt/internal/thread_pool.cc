// ThreadPool: workers sleep on a generation counter and pull task indices
// under one mutex; tasks are coarse (a feature block, a row block), so the
// lock is never the bottleneck.
#include "functions/gbdt/internal/thread_pool.h"

#include <algorithm>

namespace cloister::functions::gbdt::internal {

ThreadPool::ThreadPool(int num_threads) {
  const int workers = std::max(num_threads, 1) - 1;
  workers_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::Resolve(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Pulls indices of the current job until none are left. Called with mu_
// unlocked.
void ThreadPool::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  while (job_ != nullptr && next_ < job_size_) {
    const size_t i = next_++;
    const auto* fn = job_;
    lock.unlock();
    (*fn)(i);
    lock.lock();
    if (--unfinished_ == 0) done_.notify_all();
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    Drain();
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_size_ = n;
    next_ = 0;
    unfinished_ = n;
    ++generation_;
  }
  wake_.notify_all();
  Drain();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return unfinished_ == 0; });
  // Clearing job_ under the lock means a late-waking worker sees no job.
  job_ = nullptr;
}

}  // namespace cloister::functions::gbdt::internal
