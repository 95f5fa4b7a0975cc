// The portable fp16 conversions against the hardware's (F16C), which implement IEEE round-to-nearest-even.
#include "base/fp16.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace podserve {
namespace {

// Only these helpers use F16C, so the file needs no -mf16c; the test requires the CPU to have it.
__attribute__((target("f16c"))) uint16_t hw_float_to_fp16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));  // 0 = round to nearest even
}
__attribute__((target("f16c"))) float hw_fp16_to_float(uint16_t h) { return _cvtsh_ss(h); }

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

bool is_half_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

// Compares one conversion; returns false (after reporting the first few) on a mismatch. NaNs only need to
// stay NaN: F16C keeps payload bits that the portable version drops.
bool check_to_fp16(uint32_t bits, int* failures) {
  const float f = from_bits(bits);
  const uint16_t got = float_to_fp16(f), want = hw_float_to_fp16(f);
  const bool ok = std::isnan(f) ? is_half_nan(got) : got == want;
  if (!ok && ++*failures <= 5) {
    ADD_FAILURE() << std::hex << "float bits 0x" << bits << ": got 0x" << got << ", F16C 0x" << want;
  }
  return ok;
}

class Fp16 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!__builtin_cpu_supports("f16c")) GTEST_FAIL() << "this machine is expected to have F16C";
  }
};

TEST_F(Fp16, FloatToFp16SweepMatchesF16c) {
  int failures = 0;
  int64_t checked = 0;
  // Every 97th bit pattern: ~44M floats spread over all exponents and both signs.
  for (uint64_t b = 0; b < (1ull << 32); b += 97, ++checked) check_to_fp16(static_cast<uint32_t>(b), &failures);
  EXPECT_EQ(failures, 0) << "of " << checked;
}

TEST_F(Fp16, FloatToFp16SpecialsAndSubnormals) {
  int failures = 0;
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t b : {0x00000000u, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0x7fffffffu, 0x7f7fffffu,
                       0x00000001u, 0x007fffffu, 0x00800000u,
                       0x477fe000u, 0x477fefffu, 0x477ff000u, 0x477ff001u, 0x47800000u,  // around 65504 / inf
                       0x38800000u, 0x387fffffu, 0x33800000u, 0x33000000u, 0x33000001u, 0x32ffffffu}) {
      check_to_fp16(sign | b, &failures);
    }
    // Every float below the smallest half subnormal's neighbourhood (2^-26) rounds to zero; sample them, and
    // take all floats in the half-subnormal range [2^-26, 2^-14) exponent by exponent (every 7th mantissa).
    for (uint32_t b = 1; b < 0x32800000u; b += 65537) check_to_fp16(sign | b, &failures);
    for (uint32_t b = 0x32800000u; b < 0x38800000u; b += 7) check_to_fp16(sign | b, &failures);
  }
  EXPECT_EQ(failures, 0);
}

// Halfway cases decide round-to-nearest-even: for every pair of adjacent finite halves, the float exactly
// between them (representable: a half has 11 significant bits, a float 24) and its two float neighbours.
TEST_F(Fp16, FloatToFp16HalfwayCases) {
  int failures = 0;
  for (uint32_t h = 0; h < 0x7c00u; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const double lo = fp16_to_float(static_cast<uint16_t>(sign | h));
      const double hi = h + 1 < 0x7c00u ? fp16_to_float(static_cast<uint16_t>(sign | (h + 1)))
                                        : (sign ? -65536.0 : 65536.0);  // the overflow boundary
      const uint32_t mid = bits_of(static_cast<float>((lo + hi) / 2));
      ASSERT_EQ(static_cast<double>(from_bits(mid)), (lo + hi) / 2) << "midpoint not exact";
      for (uint32_t b : {mid - 1, mid, mid + 1}) check_to_fp16(b, &failures);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_F(Fp16, Fp16ToFloatAllHalvesMatchF16c) {
  int failures = 0;
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float got = fp16_to_float(static_cast<uint16_t>(h)), want = hw_fp16_to_float(static_cast<uint16_t>(h));
    const bool ok = is_half_nan(static_cast<uint16_t>(h)) ? std::isnan(got) : bits_of(got) == bits_of(want);
    if (!ok && ++failures <= 5) ADD_FAILURE() << std::hex << "half 0x" << h << ": got " << got << ", F16C " << want;
  }
  EXPECT_EQ(failures, 0);
}

TEST_F(Fp16, RoundTripsEveryNonNanHalf) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    if (is_half_nan(static_cast<uint16_t>(h))) continue;
    ASSERT_EQ(float_to_fp16(fp16_to_float(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Bf16, ToFloatShiftsBits) {
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xc000), -2.0f);
  EXPECT_EQ(bits_of(bf16_to_float(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(bf16_to_float(0x7f80)));
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7fc1)));
  EXPECT_EQ(bf16_to_float(0x0001), from_bits(0x00010000u));  // a subnormal stays a subnormal
}

}  // namespace
}  // namespace podserve
