// The batched LoRA op: y += b_s·(a_s·x) per token against a double-precision computation, slot -1 and rank 0
// untouched, and each token's bits independent of its batch and of the thread split (cpu:: vs ref::).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/lora_ops.h"

namespace podserve::kernels {
namespace {

struct Adapter {
  std::vector<float> a, b;
  int64_t rank;
  LoraPair pair() const { return {a.data(), b.data(), rank}; }
};

Adapter random_adapter(std::mt19937& rng, int64_t rank, int64_t in, int64_t out) {
  std::normal_distribution<float> d(0.0f, 0.5f);
  Adapter x{std::vector<float>(rank * in), std::vector<float>(out * rank), rank};
  for (float& v : x.a) v = d(rng);
  for (float& v : x.b) v = d(rng);
  return x;
}

TEST(LoraBgmv, MatchesDoublePrecisionPerTokenSlot) {
  const int64_t in = 40, out = 24, n = 9;
  std::mt19937 rng(7);
  const Adapter a0 = random_adapter(rng, 8, in, out), a1 = random_adapter(rng, 3, in, out);
  const LoraPair slots[3] = {a0.pair(), a1.pair(), {nullptr, nullptr, 0}};
  const std::vector<int32_t> slot_of = {0, -1, 1, 1, 0, 2, -1, 0, 1};
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(n * in), y0(n * out);
  for (float& v : x) v = d(rng);
  for (float& v : y0) v = d(rng);
  std::vector<float> y_ref = y0, y_cpu = y0;
  ThreadPool pool(3);
  ref::lora_bgmv(slots, slot_of.data(), x.data(), in, y_ref.data(), out, n);
  cpu::lora_bgmv(slots, slot_of.data(), x.data(), in, y_cpu.data(), out, n, &pool);
  EXPECT_EQ(y_ref, y_cpu);
  for (int64_t t = 0; t < n; ++t) {
    const int32_t s = slot_of[t];
    for (int64_t o = 0; o < out; ++o) {
      double want = y0[t * out + o];
      if (s >= 0 && slots[s].rank > 0) {
        for (int64_t r = 0; r < slots[s].rank; ++r) {
          double u = 0;
          for (int64_t c = 0; c < in; ++c) u += double{slots[s].a[r * in + c]} * x[t * in + c];
          want += double{slots[s].b[o * slots[s].rank + r]} * u;
        }
      }
      if (s < 0 || s == 2) {
        ASSERT_EQ(y_ref[t * out + o], y0[t * out + o]) << "token " << t << " has no adapter";
      } else {
        ASSERT_NEAR(y_ref[t * out + o], want, 1e-4 * (1 + std::fabs(want))) << t << " " << o;
      }
    }
  }
  // Token 4 alone gives the bits it got in the batch.
  std::vector<float> alone(y0.begin() + 4 * out, y0.begin() + 5 * out);
  cpu::lora_bgmv(slots, &slot_of[4], x.data() + 4 * in, in, alone.data(), out, 1, &pool);
  EXPECT_EQ(alone, std::vector<float>(y_cpu.begin() + 4 * out, y_cpu.begin() + 5 * out));
}

}  // namespace
}  // namespace podserve::kernels
