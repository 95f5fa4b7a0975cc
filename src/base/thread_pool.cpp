#include "base/thread_pool.h"

#include <algorithm>
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
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(generation_, INT_MAX);
  for (auto& t : workers_) t.join();
}

// claim_ packs the generation, the job's chunk count and the next unclaimed chunk into one word, so a claim is
// one compare-exchange that cannot succeed on a finished job: while any chunk of `gen` is unclaimed the caller
// is still in that job, so the job's fields stay as published.
namespace {
constexpr uint64_t pack_claim(uint32_t gen, uint32_t chunks) { return uint64_t{gen} << 32 | uint64_t{chunks} << 16; }
constexpr uint32_t claim_gen(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
constexpr uint32_t claim_chunks(uint64_t c) { return static_cast<uint32_t>(c >> 16) & 0xffffu; }
constexpr uint32_t claim_next(uint64_t c) { return static_cast<uint32_t>(c) & 0xffffu; }
constexpr uint32_t kMaxChunks = 0xffffu;
}  // namespace

void ThreadPool::run_chunks(uint32_t gen) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    do {
      if (claim_gen(c) != gen || claim_next(c) >= claim_chunks(c)) return;  // a newer job, or all taken
    } while (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire));
    // Chunk `index` of `gen` is ours: the job cannot change until it is done.
    const int64_t index = claim_next(c), chunks = claim_chunks(c);
    const int64_t n = job_n_.load(std::memory_order_relaxed);
    (*job_.load(std::memory_order_relaxed))(n * index / chunks, n * (index + 1) / chunks);
    // The caller raises caller_sleeping_ before its last look at done_ (both seq_cst): either it sees this
    // count, or this thread sees it asleep and wakes it.
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks && caller_sleeping_.load(std::memory_order_seq_cst)) {
      futex_wake(done_, 1);
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  const auto chunks = static_cast<uint32_t>(std::min<int64_t>({n, int64_t{kChunksPerThread} * num_threads(), kMaxChunks}));
  job_.store(&fn, std::memory_order_relaxed);
  job_n_.store(n, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(pack_claim(gen, chunks), std::memory_order_release);
  generation_.store(gen, std::memory_order_seq_cst);  // publishes the job
  // A worker raises sleepers_ before its last look at generation_ (both seq_cst): either it sees the new
  // generation, or we see it asleep and wake it. Taking the count (exchange to 0) makes this the only wake-up
  // for those sleepers: a woken worker can wait long for a core, and until it runs every later job would pay
  // another futex syscall for it (measured: 2.6 wake calls per real sleep under load).
  if (sleepers_.load(std::memory_order_seq_cst) > 0 && sleepers_.exchange(0, std::memory_order_seq_cst) > 0) {
    futex_wake(generation_, INT_MAX);
  }
  run_chunks(gen);
  if (!spin_until([&] { return done_.load(std::memory_order_acquire) == chunks; }, kCallerSpin)) {
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    for (uint32_t d = done_.load(std::memory_order_seq_cst); d != chunks; d = done_.load(std::memory_order_seq_cst)) {
      futex_wait(done_, d);
    }
    caller_sleeping_.store(false, std::memory_order_relaxed);
  }
}

uint32_t ThreadPool::wait_for_work(uint32_t seen) {
  uint32_t gen = seen;
  auto changed = [&] { return (gen = generation_.load(std::memory_order_acquire)) != seen; };
  if (!spin_until(changed, kWorkerSpin)) {
    // Counted once per sleep; the caller that wakes us resets the count (a count left by a worker that saw the
    // new generation before sleeping costs the next job one futex call with no one to wake).
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while ((gen = generation_.load(std::memory_order_seq_cst)) == seen) futex_wait(generation_, seen);
  }
  return gen;
}

void ThreadPool::worker_loop() {
  // `seen` is the generation this worker last acted on, as it read it: had it re-read generation_ after
  // waking, a generation published in between (the caller can finish a job without this worker) would be
  // taken as already seen, and the worker could sleep through the destructor's wake-up.
  for (uint32_t seen = 0;;) {
    seen = wait_for_work(seen);
    if (stop_.load(std::memory_order_acquire)) return;
    run_chunks(seen);
  }
}

}  // namespace podserve
