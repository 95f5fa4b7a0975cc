// cpu::rms_norm / rope_interleaved / silu_mul against their ref:: twins on odd sizes (ggml test-backend-ops
// style), on every instruction-set path this machine has. rms_norm and rope promise ref::'s exact bits; silu's
// vector exp is bounded by a relative error of a few ulp. (ops_test checks ref:: itself against the math.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/model_ops.h"
#include "kernels/ops.h"
#include "every_isa.h"

namespace podserve::kernels {
namespace {

std::vector<float> random_floats(std::mt19937& gen, int64_t n, float sigma) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

TEST(CpuRmsNorm, SameBitsAsRef) {
  std::mt19937 gen(11);
  on_every_isa([&] {
    for (int64_t dim : {1, 7, 64, 577, 1536}) {
      const auto x = random_floats(gen, dim, 3.0f), w = random_floats(gen, dim, 1.0f);
      std::vector<float> want(dim), got(x);
      ref::rms_norm(x.data(), w.data(), want.data(), dim, 1e-5f);
      cpu::rms_norm(got.data(), w.data(), got.data(), dim, 1e-5f);  // in place, as allowed
      EXPECT_EQ(std::memcmp(want.data(), got.data(), dim * sizeof(float)), 0) << "dim " << dim;
    }
  });
}

TEST(CpuRope, SameBitsAsRefAcrossPositionsAndCalls) {
  std::mt19937 gen(12);
  on_every_isa([&] {
    struct Shape { int64_t heads, head_dim, rot_dim; float theta; };
    for (const Shape& s : {Shape{9, 64, 64, 10000.0f}, Shape{3, 64, 64, 10000.0f}, Shape{5, 96, 32, 500000.0f}}) {
      // Alternate shapes and positions so a stale cached table would show.
      for (int64_t pos : {0, 1, 1, 37, 4095, 37}) {
        const auto x = random_floats(gen, s.heads * s.head_dim, 2.0f);
        std::vector<float> want(x), got(x);
        ref::rope_interleaved(want.data(), s.heads, s.head_dim, s.rot_dim, pos, s.theta);
        cpu::rope_interleaved(got.data(), s.heads, s.head_dim, s.rot_dim, pos, s.theta);
        EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
            << "heads " << s.heads << " rot_dim " << s.rot_dim << " pos " << pos;
      }
    }
  });
}

TEST(CpuSiluMul, CloseToRefIncludingExtremes) {
  std::mt19937 gen(13);
  on_every_isa([&] {
    for (int64_t n : {1, 7, 8, 9, 1537}) {
      auto gate = random_floats(gen, n, 6.0f);
      const auto up = random_floats(gen, n, 1.0f);
      if (n > 8) gate[3] = -120.0f, gate[4] = 120.0f, gate[5] = 0.0f, gate[6] = -88.0f;  // saturation, zero
      std::vector<float> want(n), got(gate);
      ref::silu_mul(gate.data(), up.data(), want.data(), n);
      cpu::silu_mul(got.data(), up.data(), got.data(), n);  // aliasing gate, as allowed
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(got[i])) << i;
        EXPECT_NEAR(got[i], want[i], 4e-7 * std::fabs(want[i]) + 1e-30) << "n " << n << " i " << i << " gate " << gate[i];
      }
    }
  });
}

// GELU-tanh against the formula in double (std::tanh), on every path: the scalar one, and AVX2's sigmoid form
// whose tail must give each element the bits it gets inside a vector (callers split rows over threads).
TEST(CpuGeluTanhMul, CloseToTheFormulaAndTheSameBitsAtAnyOffset) {
  std::mt19937 gen(17);
  on_every_isa([&] {
    for (int64_t n : {1, 7, 8, 9, 1537}) {
      auto gate = random_floats(gen, n, 6.0f);
      const auto up = random_floats(gen, n, 1.0f);
      if (n > 8) gate[3] = -120.0f, gate[4] = 120.0f, gate[5] = 0.0f, gate[6] = -10.0f;  // saturation, zero
      std::vector<float> got(gate);
      cpu::gelu_tanh_mul(got.data(), up.data(), got.data(), n);  // aliasing gate, as allowed
      for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i], u = std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g);
        const double want = 0.5 * g * (1 + std::tanh(u)) * up[i];
        ASSERT_TRUE(std::isfinite(got[i])) << i;
        EXPECT_NEAR(got[i], want, 1e-6 * std::fabs(g * up[i]) + 1e-30) << "n " << n << " i " << i << " gate " << g;
        float one;  // element i alone (a tail of 1) gives the same bits
        cpu::gelu_tanh_mul(&gate[i], &up[i], &one, 1);
        EXPECT_EQ(one, got[i]) << "n " << n << " i " << i;
      }
    }
  });
}

}  // namespace
}  // namespace podserve::kernels
