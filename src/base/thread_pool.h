// A persistent pool of worker threads for data-parallel kernels. The calling thread takes part in the work,
// so a pool of N threads runs N-1 workers. No threads are created per call.
//
// A forward pass dispatches a few hundred small jobs per token (one per op), so the hand-off must cost
// microseconds, not a futex round trip: idle workers spin on an atomic generation counter for a few tens of
// microseconds (longer than the serial gap between two ops) before they sleep on it (a futex), and the caller
// spins as briefly before it sleeps until the last chunk ends. Spins stay short because
// this machine may be shared: a long spin steals the core from the thread it waits for.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace podserve {

class ThreadPool {
 public:
  /// `num_threads` <= 0 means all hardware threads.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Splits [0, n) into contiguous chunks, one per thread, and runs fn(begin, end) on each; returns when all
  /// are done. Not reentrant: call from one thread at a time.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  void worker_loop(int index);
  void run_chunk(int index);
  // Waits until generation_ differs from `seen` (or stop_); returns false on stop.
  bool wait_for_work(uint32_t seen);

  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;  // published by generation_ (release)
  int64_t job_n_ = 0;
  std::atomic<uint32_t> generation_{0};  // a futex word (wraps harmlessly: only != is used)
  std::atomic<int> pending_{0};   // workers still running the current job
  std::atomic<int> sleepers_{0};  // workers blocked (or about to block) in generation_.wait
  std::atomic<bool> caller_sleeping_{false};  // the caller blocks in pending_.wait
  std::atomic<bool> stop_{false};
};

}  // namespace podserve
