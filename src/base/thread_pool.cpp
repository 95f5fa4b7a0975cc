#include "base/thread_pool.h"

#include <chrono>
#include <climits>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PODSERVE_CPU_RELAX() _mm_pause()
#else
#define PODSERVE_CPU_RELAX() std::this_thread::yield()
#endif

namespace podserve {
namespace {
constexpr auto kWorkerSpin = std::chrono::microseconds(20);
constexpr auto kCallerSpin = std::chrono::microseconds(20);

// Blocks while *word == expected. Plain futex calls: libstdc++'s atomic::wait first calls sched_yield in a
// loop, which on a loaded machine hands the core away for whole time slices.
template <typename T>
void futex_wait(std::atomic<T>& word, T expected) {
  static_assert(sizeof(T) == 4, "futex words are 32-bit");
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, static_cast<uint32_t>(expected), nullptr,
          nullptr, 0);
#else
  word.wait(expected);
#endif
}
template <typename T>
void futex_wake(std::atomic<T>& word, int count) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
#else
  count == 1 ? word.notify_one() : word.notify_all();
#endif
}

// Spins until pred() or `budget` has passed; returns pred()'s last value.
template <typename Pred>
bool spin_until(Pred pred, std::chrono::microseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (int spins = 1;; ++spins) {
    if (pred()) return true;
    PODSERVE_CPU_RELAX();
    if ((spins & 31) == 0 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (num_threads <= 0) num_threads = 1;
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(generation_, INT_MAX);
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunk(int index) {
  const int64_t threads = num_threads();
  const int64_t begin = job_n_ * index / threads;
  const int64_t end = job_n_ * (index + 1) / threads;
  if (begin < end) (*job_)(begin, end);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes job_, job_n_, pending_
  // A worker raises sleepers_ before its last look at generation_ (both seq_cst): either it sees the new
  // generation, or we see it asleep and wake it.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake(generation_, INT_MAX);
  run_chunk(0);
  if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; }, kCallerSpin)) {
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    for (int p = pending_.load(std::memory_order_seq_cst); p != 0; p = pending_.load(std::memory_order_seq_cst)) {
      futex_wait(pending_, p);
    }
    caller_sleeping_.store(false, std::memory_order_relaxed);
  }
  job_ = nullptr;
}

bool ThreadPool::wait_for_work(uint32_t seen) {
  auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
  if (!spin_until(changed, kWorkerSpin)) {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while (generation_.load(std::memory_order_seq_cst) == seen) futex_wait(generation_, seen);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
  return !stop_.load(std::memory_order_acquire);
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  while (wait_for_work(seen)) {
    seen = generation_.load(std::memory_order_acquire);
    run_chunk(index);
    // The caller raises caller_sleeping_ before its last look at pending_ (both seq_cst), as above.
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_sleeping_.load(std::memory_order_seq_cst)) {
      futex_wake(pending_, 1);
    }
  }
}

}  // namespace podserve
