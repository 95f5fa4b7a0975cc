// The integer block dot products (AVX2 vs scalar vs an independent double-precision evaluation) and the
// 8-bit activation quantizer they consume.
#include "kernels/quant_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/ops.h"
#include "quantize_for_test.h"

namespace podserve::kernels {
namespace {

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_float(h);
}

// Random but well-formed weight blocks: random quant bytes (Q8_0 includes -128, which ggml's quantizer never
// writes but a file may hold) and sane fp16 scales/mins.
std::vector<uint8_t> random_blocks(DType type, int64_t n, std::mt19937& gen) {
  std::vector<uint8_t> out(dtype_row_bytes(type, n));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(1e-3f, 0.5f), min(-2.0f, 2.0f);
  for (auto& b : out) b = static_cast<uint8_t>(byte(gen));
  const int64_t bb = dtype_block_bytes(type);
  for (int64_t i = 0; i < n / 32; ++i) {
    test_quant::put_half(out.data() + i * bb, scale(gen));
    if (type == DType::kQ4_1) test_quant::put_half(out.data() + i * bb + 2, min(gen));
  }
  return out;
}

// sum over blocks of dw * da * sum(qw * qa) (+ m * s for Q4_1) in double, plus the sum of |terms| (the scale
// that float summation errors are relative to).
std::pair<double, double> dot_in_double(DType type, const uint8_t* w, const uint8_t* a, int64_t n) {
  const int64_t wb = dtype_block_bytes(type), ab = dtype_block_bytes(activation_type_for(type));
  const int qoff = type == DType::kQ4_1 ? 4 : 2;
  double sum = 0.0, mag = 0.0;
  for (int64_t b = 0; b < n / 32; ++b, w += wb, a += ab) {
    const auto* aq = reinterpret_cast<const int8_t*>(a + qoff);
    int64_t sumi = 0;
    for (int j = 0; j < 32; ++j) {
      int qw;
      if (type == DType::kQ8_0) {
        qw = reinterpret_cast<const int8_t*>(w + 2)[j];
      } else {
        const uint8_t byte = w[qoff + j % 16];
        qw = j < 16 ? byte & 0x0F : byte >> 4;
        if (type == DType::kQ4_0) qw -= 8;
      }
      sumi += static_cast<int64_t>(qw) * aq[j];
    }
    const double term = static_cast<double>(half_at(w)) * half_at(a) * static_cast<double>(sumi);
    const double offset = type == DType::kQ4_1 ? static_cast<double>(half_at(w + 2)) * half_at(a + 2) : 0.0;
    sum += term + offset;
    mag += std::fabs(term) + std::fabs(offset);
  }
  return {sum, mag};
}

TEST(QuantDot, Avx2MatchesScalar) {
  // CI runs on this AVX2 machine: a missing AVX2 path would leave the fast kernels untested, so fail loudly.
  ASSERT_TRUE(cpu::has_avx2()) << "this machine is expected to have AVX2/FMA/F16C";
  std::mt19937 gen(99);
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0}) {
    const DType act = activation_type_for(type);
    EXPECT_EQ(act, type == DType::kQ4_1 ? DType::kQ8_1 : DType::kQ8_0);
    for (int64_t n : {32, 96, 256, 992, 4096}) {
      for (int variant = 0; variant < 6; ++variant) {
        SCOPED_TRACE(::testing::Message() << dtype_name(type) << " n=" << n << " variant=" << variant);
        const std::vector<float> x = test_quant::random_normal(gen, n, variant % 2 ? 30.0f : 1.0f);
        std::vector<uint8_t> a(dtype_row_bytes(act, n));
        quantize_activations(act, x.data(), a.data(), n);
        // Half the variants quantize random floats (realistic), half use random blocks (edge values).
        const std::vector<float> wf = test_quant::random_normal(gen, n);
        const std::vector<uint8_t> w =
            variant < 3 ? test_quant::quantize(type, wf.data(), n) : random_blocks(type, n, gen);
        const float scalar = quant_dot_scalar(type, w.data(), a.data(), n);
        const float avx2 = quant_dot_avx2(type, w.data(), a.data(), n);
        const auto [exact, mag] = dot_in_double(type, w.data(), a.data(), n);
        // Integer products are exact in both; only float summation order differs (<= n/32 + 8 roundings).
        EXPECT_NEAR(avx2, scalar, 1e-4 * mag);
        EXPECT_NEAR(scalar, exact, 1e-5 * mag);
      }
    }
  }
}

// Per block: d = fp16(amax / 127), q = round(x * 127 / amax), so q * d is within d/2 of x, plus the error of
// storing d as fp16 (|q| <= 127 times |fp16(d) - d|). Q8_1's s is fp16(d * sum q).
TEST(QuantizeActivations, RoundTripWithinHalfAStep) {
  std::mt19937 gen(5);
  const int64_t n = 32 * 24;
  for (float sigma : {1e-3f, 1.0f, 300.0f}) {
    std::vector<float> x = test_quant::random_normal(gen, n, sigma);
    for (int j = 0; j < 32; ++j) x[32 * 3 + j] = 0.0f;  // an all-zero block: d = 0, q = 0
    x[32 * 5 + 7] = 50.0f * sigma;                        // an outlier squashing the rest of its block
    for (DType act : {DType::kQ8_0, DType::kQ8_1}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(act) << " sigma=" << sigma);
      std::vector<uint8_t> a(dtype_row_bytes(act, n), 0xAB);
      quantize_activations(act, x.data(), a.data(), n);
      const int64_t bb = dtype_block_bytes(act);
      const int qoff = act == DType::kQ8_1 ? 4 : 2;
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = a.data() + b * bb;
        const float* xb = x.data() + b * 32;
        const float amax = test_quant::amax_of(xb, 32);
        const double d_exact = amax / 127.0, d = half_at(blk);
        EXPECT_EQ(d, round_to_fp16(amax / 127.0f)) << "block " << b;
        const double tol = d_exact / 2 + 127.0 * std::fabs(d - d_exact) + amax * 0x1.0p-22;
        const auto* q = reinterpret_cast<const int8_t*>(blk + qoff);
        int sum = 0, max_q = 0;
        for (int j = 0; j < 32; ++j) {
          EXPECT_LE(std::abs(static_cast<int>(q[j])), 127);
          EXPECT_LE(std::fabs(q[j] * d - xb[j]), tol) << "block " << b << " [" << j << "]";
          sum += q[j];
          max_q = std::max(max_q, std::abs(static_cast<int>(q[j])));
        }
        EXPECT_EQ(max_q, amax > 0.0f ? 127 : 0) << "block " << b;  // the largest element uses the full range
        if (act == DType::kQ8_1) {
          // s = fp16(d_exact * sum): off by 2^-11 relative (2^-25 absolute if subnormal) from d_exact * sum,
          // which differs from the stored d's d * sum by |sum| * |d - d_exact| (large when d is subnormal).
          const double s = half_at(blk + 2), want = d * sum;
          const double s_tol =
              0x1.0p-11 * std::fabs(d_exact * sum) + 0x1.0p-25 + std::abs(sum) * std::fabs(d - d_exact);
          EXPECT_LE(std::fabs(s - want), s_tol * 1.0001) << "block " << b;
        }
      }
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
