// The fused forward-pass entry points (kernels/fused_ops.h) must give exactly the bits of the plain op sequence
// (cpu::matmul per matrix, cpu::silu_mul per token row), on every instruction-set path and for any thread count,
// so fusing does not move greedy outputs or break batch invariance. cpu::matmul itself is checked against ref::
// in matmul_test.cpp; here ref:: also bounds the fused results loosely, so a shared mistake cannot hide.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu/isa.h"
#include "kernels/fused_ops.h"
#include "kernels/ops.h"
#include "quantize_for_test.h"
#include "every_isa.h"

namespace podserve::kernels {
namespace {

// Int-dot and float types take the fused paths; Q4_K takes the per-matrix fallback.
constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                            DType::kF16,  DType::kBF16, DType::kF32,  DType::kQ4_K};
// 1, 3: decode (AVX-512); 12, 17, 40: AMX with tokens as tile rows (one group of 12; groups of 16, one partial);
// 70: the prefill AMX groups and the activations quantized in parallel.
constexpr int64_t kTokenCounts[] = {1, 3, 12, 17, 40, 70};

struct Weights {
  std::vector<uint8_t> bytes;
  MatrixView view;
};

Weights random_weights(std::mt19937& gen, DType type, int64_t rows, int64_t cols) {
  Weights w;
  const std::vector<float> f = test_quant::random_normal(gen, rows * cols);
  w.bytes = test_quant::quantize(type, f.data(), rows * cols);
  w.view = MatrixView{type, w.bytes.data(), rows, cols};
  return w;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// q/k/v-like shapes: row counts that are and are not multiples of the 16-row work unit, one below it.
TEST(MatmulMany, SameBitsAsOneMatmulPerMatrix) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  on_every_isa([&] {
    std::mt19937 gen(11);
    for (DType type : kTypes) {
      const int64_t cols = dtype_block_size(type) == 256 ? 256 : 96;
      const Weights a = random_weights(gen, type, 48, cols), b = random_weights(gen, type, 83, cols),
                    c = random_weights(gen, type, 7, cols);
      const MatrixView ws[3] = {a.view, b.view, c.view};
      for (int64_t n : kTokenCounts) {
        SCOPED_TRACE(::testing::Message() << dtype_name(type) << " n=" << n);
        const std::vector<float> x = test_quant::random_normal(gen, n * cols);
        std::vector<std::vector<float>> want(3), want_ref(3);
        for (int i = 0; i < 3; ++i) {
          want[i].resize(n * ws[i].rows);
          want_ref[i].resize(n * ws[i].rows);
          cpu::matmul(ws[i], x.data(), want[i].data(), n, &pool1);
          ref::matmul(ws[i], x.data(), want_ref[i].data(), n);
        }
        for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
          std::vector<std::vector<float>> got(3);
          float* ys[3];
          for (int i = 0; i < 3; ++i) got[i].assign(n * ws[i].rows, NAN), ys[i] = got[i].data();
          cpu::matmul_many(ws, x.data(), ys, n, pool);
          for (int i = 0; i < 3; ++i) {
            EXPECT_TRUE(same_bits(got[i], want[i])) << "matrix " << i << ", threads " << pool->num_threads();
            // Loose: 8-bit activations (matmul_test.cpp bounds this tightly).
            for (size_t j = 0; j < got[i].size(); ++j) ASSERT_NEAR(got[i][j], want_ref[i][j], 0.05 * std::sqrt(cols));
          }
        }
      }
    }
  });
}

// gate/up rows: a multiple of 16, a multiple of 8 only (a short last unit), and one that is neither (the
// unfused fallback).
TEST(MatmulSwiglu, SameBitsAsTwoMatmulsThenSiluMulPerRow) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  on_every_isa([&] {
    std::mt19937 gen(12);
    for (DType type : kTypes) {
      const int64_t cols = dtype_block_size(type) == 256 ? 256 : 64;
      for (int64_t rows : {64, 40, 36}) {
        const Weights gate = random_weights(gen, type, rows, cols), up = random_weights(gen, type, rows, cols);
        for (int64_t n : kTokenCounts) {
          SCOPED_TRACE(::testing::Message() << dtype_name(type) << " rows=" << rows << " n=" << n);
          const std::vector<float> x = test_quant::random_normal(gen, n * cols, 0.3f);
          std::vector<float> want(n * rows), up_want(n * rows), want_ref(n * rows), up_ref(n * rows);
          cpu::matmul(gate.view, x.data(), want.data(), n, &pool1);
          cpu::matmul(up.view, x.data(), up_want.data(), n, &pool1);
          for (int64_t t = 0; t < n; ++t) {
            cpu::silu_mul(want.data() + t * rows, up_want.data() + t * rows, want.data() + t * rows, rows);
          }
          ref::matmul(gate.view, x.data(), want_ref.data(), n);
          ref::matmul(up.view, x.data(), up_ref.data(), n);
          ref::silu_mul(want_ref.data(), up_ref.data(), want_ref.data(), n * rows);
          for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
            std::vector<float> got(n * rows, NAN), scratch(n * rows, NAN);
            cpu::matmul_swiglu(gate.view, up.view, x.data(), got.data(), scratch.data(), n, pool);
            EXPECT_TRUE(same_bits(got, want)) << "threads " << pool->num_threads();
            for (size_t j = 0; j < got.size(); ++j) ASSERT_NEAR(got[j], want_ref[j], 0.05 * cols);
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace podserve::kernels
