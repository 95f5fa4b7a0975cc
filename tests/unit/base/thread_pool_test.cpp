#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace podserve {
namespace {

// Aborts the process if the scope is not left within `seconds`: a deadlocked pool would otherwise hang until
// CTest's timeout, and a hung join in ~ThreadPool cannot be failed out of.
class Watchdog {
 public:
  explicit Watchdog(int seconds) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "Watchdog: ThreadPool deadlocked (no progress in %d s)\n", seconds);
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

TEST(ThreadPool, CoversRangeExactlyOnce) {
  Watchdog watchdog(60);
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t n : {0, 1, 2, 3, 1000}) {
      SCOPED_TRACE(::testing::Message() << "threads=" << threads << " n=" << n);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0}, bad_ranges{0};
      pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        if (!(0 <= begin && begin < end && end <= n)) ++bad_ranges;  // no empty or out-of-range chunks
        ++calls;
        for (int64_t i = begin; i < end && i < n; ++i) ++hits[static_cast<size_t>(i)];
      });
      EXPECT_EQ(bad_ranges.load(), 0);
      EXPECT_LE(calls.load(), threads * ThreadPool::kChunksPerThread);
      if (n == 0) {
        EXPECT_EQ(calls.load(), 0);
      }
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i;
    }
  }
}

// Each chunk waits until every thread has run one: passes only when the workers take part.
TEST(ThreadPool, UsesTheWorkersForLargeRanges) {
  Watchdog watchdog(60);
  ThreadPool pool(3);
  std::mutex mutex;
  std::condition_variable all_seen;
  std::vector<std::thread::id> ids;
  pool.parallel_for(300, [&](int64_t, int64_t) {
    std::unique_lock<std::mutex> lock(mutex);
    if (std::find(ids.begin(), ids.end(), std::this_thread::get_id()) == ids.end()) ids.push_back(std::this_thread::get_id());
    all_seen.notify_all();
    all_seen.wait(lock, [&] { return ids.size() == 3; });
  });
  EXPECT_EQ(ids.size(), 3u);
}

// Workers that went to sleep between jobs (idle longer than their spin) are woken by the next job, every time:
// each job passes only when all 4 threads take part. Sleeps of different lengths let workers fall asleep at
// different times, so some jobs find part of the workers asleep and part still spinning or just woken.
TEST(ThreadPool, SleepingWorkersWakeForEveryJob) {
  Watchdog watchdog(60);
  ThreadPool pool(4);
  for (int rep = 0; rep < 40; ++rep) {
    std::this_thread::sleep_for(std::chrono::microseconds(rep % 4 == 0 ? 0 : 50 * (rep % 7) + 10));
    std::mutex mutex;
    std::condition_variable all_seen;
    std::vector<std::thread::id> ids;
    pool.parallel_for(16, [&](int64_t, int64_t) {
      std::unique_lock<std::mutex> lock(mutex);
      if (std::find(ids.begin(), ids.end(), std::this_thread::get_id()) == ids.end()) ids.push_back(std::this_thread::get_id());
      all_seen.notify_all();
      all_seen.wait(lock, [&] { return ids.size() == 4; });
    });
    ASSERT_EQ(ids.size(), 4u) << "job " << rep;
  }
}

// A thread that stalls inside its chunk (descheduled, say) does not hold up the rest of the range: the first
// chunk to start waits until every other item is done, which the other thread must do alone, so the stalled
// thread's share is one small chunk, not half the range.
TEST(ThreadPool, OtherThreadsTakeAStalledThreadsShare) {
  Watchdog watchdog(60);
  ThreadPool pool(2);
  for (int rep = 0; rep < 50; ++rep) {
    const int64_t n = 100;
    std::atomic<int> started{0};
    std::atomic<int64_t> covered{0}, stalled_size{0};
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
      if (started++ == 0) {
        stalled_size = end - begin;
        while (covered.load() < n - (end - begin)) std::this_thread::yield();
      }
      covered += end - begin;
    });
    ASSERT_EQ(covered.load(), n);
    ASSERT_LT(stalled_size.load(), n / 2);
  }
}

TEST(ThreadPool, ZeroMeansHardwareThreads) {
  ThreadPool pool(0);
  EXPECT_GE(pool.num_threads(), 1);
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_EQ(pool.num_threads(), static_cast<int>(hw));
  }
}

TEST(ThreadPool, ManyCallsDoNotDeadlock) {
  Watchdog watchdog(120);
  for (int threads : {2, 5}) {
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    const int kCalls = 10000;
    for (int c = 0; c < kCalls; ++c) {
      // Alternate tiny and larger ranges: some workers get empty chunks, some calls run inline (n == 1).
      const int64_t n = c % 3 == 0 ? 1 : (c % 3 == 1 ? 2 : 7);
      pool.parallel_for(n, [&](int64_t begin, int64_t end) { total += end - begin; });
      if (c % 3 == 2) {
        ASSERT_EQ(total.load(), (c / 3 + 1) * (1 + 2 + 7)) << "call " << c;
      }
    }
    EXPECT_EQ(total.load(), kCalls / 3 * 10 + 1);  // 3333 full rounds plus the last call's n == 1
  }
}

TEST(ThreadPool, DestroysCleanlyWithoutWork) {
  Watchdog watchdog(60);
  for (int i = 0; i < 100; ++i) ThreadPool pool(4);
}

}  // namespace
}  // namespace podserve
