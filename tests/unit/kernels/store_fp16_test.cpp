// cpu::store_fp16 (the K/V cache store) against base/fp16.h's float_to_fp16 on every instruction-set path: the
// same bits for every rounding tie between two halves, the overflow and subnormal edges, infinities and NaNs with
// payloads, random bit patterns, and lengths that leave a scalar tail. (fp16_test checks float_to_fp16 itself.)
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/cpu/isa.h"
#include "kernels/model_ops.h"
#include "every_isa.h"

namespace podserve::kernels {
namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

uint32_t to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Every half as a float, the floats one ulp either side, and the midpoints to the next half (ties round to even).
std::vector<float> edge_values() {
  std::vector<float> v;
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = fp16_to_float(static_cast<uint16_t>(h));
    v.push_back(f);
    if (f != f) continue;  // NaN halves: their float forms are in already
    v.push_back(from_bits(to_bits(f) + 1));
    if ((to_bits(f) & 0x7fffffffu) != 0) v.push_back(from_bits(to_bits(f) - 1));
    const float next = fp16_to_float(static_cast<uint16_t>(h + 1));
    if ((h & 0x7fffu) < 0x7c00u && next == next) {
      const float mid = f + (next - f) * 0.5f;  // exact: both are halves, so the midpoint fits a float
      v.push_back(mid);
    }
  }
  // Overflow edges, float subnormals, infinities and NaNs whose payload F16C would keep.
  for (uint32_t b : {0x477fe000u, 0x477fefffu, 0x477ff000u, 0x47800000u, 0x7f7fffffu, 0x00000001u, 0x007fffffu,
                     0x33000000u, 0x33000001u, 0x32ffffffu, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0x7fffffffu,
                     0x7fa00000u, 0x7f802000u, 0x7fbfe000u}) {
    v.push_back(from_bits(b));
    v.push_back(from_bits(b | 0x80000000u));
  }
  return v;
}

void expect_same_bits(const std::vector<float>& x, int64_t offset, int64_t n) {
  std::vector<uint16_t> got(static_cast<size_t>(n) + 2, 0xabcdu);
  cpu::store_fp16(x.data() + offset, got.data() + 1, n);
  EXPECT_EQ(got[0], 0xabcdu);
  EXPECT_EQ(got[static_cast<size_t>(n) + 1], 0xabcdu) << "wrote past the end, n=" << n;
  for (int64_t i = 0; i < n; ++i) {
    const float f = x[static_cast<size_t>(offset + i)];
    ASSERT_EQ(got[static_cast<size_t>(i) + 1], float_to_fp16(f)) << "value bits 0x" << std::hex << to_bits(f);
  }
}

TEST(StoreFp16, SameBitsAsFloatToFp16OnEdges) {
  const std::vector<float> edges = edge_values();
  on_every_isa([&] { expect_same_bits(edges, 0, static_cast<int64_t>(edges.size())); });
}

TEST(StoreFp16, SameBitsOnRandomPatternsAndOddLengths) {
  std::mt19937 gen(7);
  std::vector<float> x(1 << 16);
  for (float& f : x) f = from_bits(static_cast<uint32_t>(gen()));
  on_every_isa([&] {
    expect_same_bits(x, 0, static_cast<int64_t>(x.size()));
    for (int64_t n : {0, 1, 7, 8, 9, 15, 17, 192}) expect_same_bits(x, 3, n);  // unaligned, with scalar tails
  });
}

}  // namespace
}  // namespace podserve::kernels
