#include "model/device/weight_staging.h"

#include <gtest/gtest.h>

#include <deque>
#include <numeric>
#include <vector>

#include "base/rng.h"
#include "base/thread_pool.h"

namespace podserve {
namespace {

// A device that copies late: copies are queued per buffer and run only when the buffer is waited for (or at
// finish), reading the staging buffer then. A host that refills a buffer before waiting would corrupt the copy.
class LazyDevice final : public StagingTarget {
 public:
  LazyDevice(size_t bytes, std::vector<uint8_t*> buffers) : memory(bytes, 0), buffers_(std::move(buffers)), queued_(buffers_.size()) {}
  Status wait(int b) override {
    run(b);
    ++waits;
    return ok_status();
  }
  Status copy(int b, size_t off, size_t dst, size_t bytes) override {
    if (dst + bytes > memory.size()) return internal_error("copy past the end");
    queued_[b].push_back({off, dst, bytes});
    ++copies;
    return ok_status();
  }
  Status issued(int b) override {
    ++issued_count;
    return ok_status();
  }
  Status finish() override {
    for (size_t b = 0; b < buffers_.size(); ++b) run(static_cast<int>(b));
    return ok_status();
  }
  std::vector<uint8_t> memory;
  int waits = 0, copies = 0, issued_count = 0;

 private:
  struct Copy {
    size_t off, dst, bytes;
  };
  void run(int b) {
    for (const Copy& c : queued_[b]) std::copy_n(buffers_[b] + c.off, c.bytes, memory.begin() + c.dst);
    queued_[b].clear();
  }
  std::vector<uint8_t*> buffers_;
  std::vector<std::deque<Copy>> queued_;
};

TEST(WeightStaging, EveryByteArrivesThroughFewBuffers) {
  Rng rng(7);
  // Uploads of assorted sizes (some larger than a buffer, some tiny) with gaps between them on the device.
  std::vector<std::vector<uint8_t>> sources;
  std::vector<WeightUpload> uploads;
  size_t offset = 0;
  for (size_t size : {10u, 3000u, 1u, 70000u, 256u, 4096u, 5u, 20000u}) {
    sources.emplace_back(size);
    for (uint8_t& b : sources.back()) b = static_cast<uint8_t>(rng.next_u64());
    uploads.push_back({sources.back().data(), offset, size});
    offset += size + (size % 3 == 0 ? 0 : 256);  // some adjacent, some not
  }
  for (int n_buffers : {1, 2, 3}) {
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), new ThreadPool(3)}) {
      std::vector<std::vector<uint8_t>> staging(static_cast<size_t>(n_buffers), std::vector<uint8_t>(4096));
      std::vector<uint8_t*> ptrs;
      for (auto& s : staging) ptrs.push_back(s.data());
      LazyDevice dev(offset, ptrs);
      auto stats = stream_uploads(uploads, ptrs, 4096, dev, pool);
      delete pool;
      ASSERT_TRUE(stats.ok()) << stats.status().to_string();
      EXPECT_EQ(stats->bytes, std::accumulate(uploads.begin(), uploads.end(), size_t{0},
                                              [](size_t a, const WeightUpload& u) { return a + u.bytes; }));
      EXPECT_EQ(dev.issued_count, stats->fills);
      EXPECT_LE(stats->copies, dev.copies);
      for (size_t i = 0; i < uploads.size(); ++i) {
        ASSERT_TRUE(std::equal(sources[i].begin(), sources[i].end(), dev.memory.begin() + uploads[i].offset))
            << "upload " << i << " with " << n_buffers << " buffers";
      }
      if (n_buffers > 1) {
        EXPECT_GT(dev.waits, 0);
      }
    }
  }
}

TEST(WeightStaging, AdjacentPiecesBecomeOneCopy) {
  std::vector<uint8_t> a(100, 1), b(50, 2);
  const std::vector<WeightUpload> uploads = {{a.data(), 0, 100}, {b.data(), 100, 50}};
  std::vector<uint8_t> staging(1000);
  std::vector<uint8_t*> ptrs = {staging.data()};
  LazyDevice dev(150, ptrs);
  auto stats = stream_uploads(uploads, ptrs, 1000, dev, nullptr);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->copies, 1);
  EXPECT_EQ(stats->fills, 1);
  EXPECT_EQ(dev.memory[99], 1);
  EXPECT_EQ(dev.memory[100], 2);
}

TEST(WeightStaging, DeviceErrorsStopTheUpload) {
  class Failing final : public StagingTarget {
   public:
    Status wait(int) override { return ok_status(); }
    Status copy(int, size_t, size_t, size_t) override { return internal_error("cudaMemcpyAsync failed: out of memory"); }
    Status issued(int) override { return ok_status(); }
    Status finish() override { return ok_status(); }
  } dev;
  std::vector<uint8_t> a(10), staging(16);
  const std::vector<WeightUpload> uploads = {{a.data(), 0, 10}};
  std::vector<uint8_t*> ptrs = {staging.data()};
  auto r = stream_uploads(uploads, ptrs, 16, dev, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cudaMemcpyAsync"), std::string::npos);
}

}  // namespace
}  // namespace podserve
