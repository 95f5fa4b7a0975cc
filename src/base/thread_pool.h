// A persistent pool of worker threads for data-parallel kernels. The calling thread takes part in the work,
// so a pool of N threads runs N-1 workers. No threads are created per call.
//
// A forward pass dispatches a few hundred small jobs per token (one per op), so the hand-off must cost
// microseconds, not a futex round trip: idle workers spin on an atomic generation counter for a few tens of
// microseconds (longer than the serial gap between two ops) before they sleep on it (a futex), and the caller
// spins as briefly before it sleeps until the last chunk ends. Spins stay short because
// this machine may be shared: a long spin steals the core from the thread it waits for.
//
// A job is cut into a few chunks per thread that threads claim one at a time, so when a worker wakes late or
// loses its core to another process, the threads that are running take its share instead of waiting for it.
// Callers must not depend on how [0, n) is cut (every kernel's result per item is independent of its range).
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

  /// At most this many chunks per thread (and 65535 in all).
  enum : int { kChunksPerThread = 4 };  // an enumerator, not an inline variable: see src/kernels/CMakeLists.txt (-fno-weak)

  /// Splits [0, n) into at most kChunksPerThread * num_threads() contiguous chunks, runs fn(begin, end) on each
  /// (on any thread, each exactly once), and returns when all are done. Not reentrant: call from one thread at
  /// a time.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  using Job = std::function<void(int64_t, int64_t)>;
  void worker_loop();
  // Claims and runs chunks of generation `gen` until none is left (or a newer job has replaced it).
  void run_chunks(uint32_t gen);
  // Waits until generation_ differs from `seen`; returns the generation it read.
  uint32_t wait_for_work(uint32_t seen);

  std::vector<std::thread> workers_;
  // The current job. Written by the caller before it publishes the job's generation; read by a worker only
  // after it claimed a chunk of that generation (so the caller, waiting for that chunk, cannot change them).
  std::atomic<const Job*> job_{nullptr};
  std::atomic<int64_t> job_n_{0};
  std::atomic<uint64_t> claim_{0};       // generation << 32 | chunk count << 16 | next unclaimed chunk
  std::atomic<uint32_t> done_{0};        // chunks of the current job finished (a futex word for the caller)
  std::atomic<uint32_t> generation_{0};  // a futex word (wraps harmlessly: only != is used)
  std::atomic<int> sleepers_{0};         // workers gone to sleep on generation_ since the last wake-up
  std::atomic<bool> caller_sleeping_{false};  // the caller blocks in futex_wait(done_)
  std::atomic<bool> stop_{false};
};

}  // namespace podserve
