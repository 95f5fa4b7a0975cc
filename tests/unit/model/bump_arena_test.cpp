#include "model/device/bump_arena.h"

#include <gtest/gtest.h>

namespace podserve {
namespace {

TEST(BumpArena, AlignsEveryBufferAndTracksThePeak) {
  BumpArena a(0x10000, 4096);
  auto x = a.allocate(10, "x");
  auto y = a.allocate(300, "y");
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(*x, 0x10000u);
  EXPECT_EQ(*y, 0x10000u + 256);
  EXPECT_EQ(a.used(), 256u + 512);
  const size_t mark = a.mark();
  ASSERT_TRUE(a.allocate(1024, "z").ok());
  EXPECT_EQ(a.peak(), 256u + 512 + 1024);
  a.reset(mark);
  EXPECT_EQ(a.used(), mark);
  EXPECT_EQ(a.peak(), 256u + 512 + 1024);  // the peak survives resets
  // The same allocation sequence lands at the same addresses (what graph replays rely on).
  auto z2 = a.allocate(1024, "z");
  ASSERT_TRUE(z2.ok());
  EXPECT_EQ(*z2, 0x10000u + 768);
}

TEST(BumpArena, ExhaustionNamesTheBufferAndTheSizes) {
  BumpArena a(0, 1024);
  ASSERT_TRUE(a.allocate(700, "first").ok());
  auto r = a.allocate(300, "logits");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("logits"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("256 of 1024"), std::string::npos) << r.status().message();
  EXPECT_EQ(a.used(), 768u);  // a failed allocation takes nothing
}

TEST(BumpArena, MeasuringArenaSizesTheRealOne) {
  BumpArena measure(0, BumpArena::kUnbounded);
  for (size_t bytes : {100u, 5000u, 33u}) ASSERT_TRUE(measure.allocate(bytes, "t").ok());
  measure.reset();
  ASSERT_TRUE(measure.allocate(1, "t").ok());
  BumpArena real(0x4000, measure.peak());
  for (size_t bytes : {100u, 5000u, 33u}) ASSERT_TRUE(real.allocate(bytes, "t").ok());
  EXPECT_FALSE(real.allocate(1, "t").ok());
  EXPECT_FALSE(measure.allocate(BumpArena::kUnbounded, "huge").ok());
  auto arr = measure.allocate_array<double>(BumpArena::kUnbounded / 4, "huge array");
  EXPECT_FALSE(arr.ok());
}

}  // namespace
}  // namespace podserve
