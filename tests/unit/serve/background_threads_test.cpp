#include "serve/background_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace podserve {
namespace {

using namespace std::chrono_literals;

TEST(BackgroundThreads, JoinAllWaitsForWorkStillRunning) {
  BackgroundThreads threads;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> finished{false};
  ASSERT_TRUE(threads.spawn([released, &finished] {
    released.wait();
    std::this_thread::sleep_for(50ms);
    finished = true;
  }));
  EXPECT_EQ(threads.running(), 1u);
  auto joiner = std::async(std::launch::async, [&] { threads.join_all(); });
  EXPECT_EQ(joiner.wait_for(100ms), std::future_status::timeout);  // held by the work, not returned early
  release.set_value();
  joiner.get();
  EXPECT_TRUE(finished);
  EXPECT_EQ(threads.running(), 0u);
}

TEST(BackgroundThreads, RefusesWorkOnceShuttingDown) {
  BackgroundThreads threads;
  threads.join_all();
  std::atomic<bool> ran{false};
  EXPECT_FALSE(threads.spawn([&ran] { ran = true; }));
  threads.join_all();  // idempotent
  EXPECT_FALSE(ran);
}

TEST(BackgroundThreads, DestructionJoinsEveryThread) {
  std::atomic<int> done{0};
  {
    BackgroundThreads threads;
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(threads.spawn([&done] { done.fetch_add(1); }));
    ASSERT_TRUE(threads.spawn([&done] {
      std::this_thread::sleep_for(100ms);
      done.fetch_add(1);
    }));
  }  // the destructor joins: `done` (on this stack) is not touched after it
  EXPECT_EQ(done.load(), 201);
}

}  // namespace
}  // namespace podserve
