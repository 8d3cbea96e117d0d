// A tiny persistent thread pool for the GBDT trainer and predictor: one
// blocking ParallelFor, the calling thread participates.
//
//   ThreadPool pool(2);
//   pool.ParallelFor(n, [&](size_t i) { Work(i); });
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cloister::functions::gbdt::internal {

// Why persistent: training issues several small parallel steps per tree level
// (hundreds per model); spawning threads for each would cost more than the
// work of a deep, narrow level.
//
// Not reentrant: ParallelFor must not be called from inside a task, and only
// one thread may call ParallelFor at a time. Tasks must not throw.
class ThreadPool {
 public:
  // num_threads is the total parallelism including the caller; values < 1
  // mean one (no workers).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i) for every i in [0, n), in any order and on any pool thread;
  // returns when all calls have returned.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

  // Resolves a user thread count: 0 = hardware concurrency (at least 1).
  static int Resolve(int requested);

 private:
  void WorkerLoop();
  void Drain();

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t)>* job_ = nullptr;  // guarded by mu_
  size_t job_size_ = 0;                                // guarded by mu_
  size_t next_ = 0;                                    // guarded by mu_
  size_t unfinished_ = 0;                              // guarded by mu_
  uint64_t generation_ = 0;                            // guarded by mu_
  bool stop_ = false;                                  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace cloister::functions::gbdt::internal
