// cpu::matmul against ref::matmul for every weight type, on odd shapes (in the style of ggml's
// test-backend-ops): weights come from quantizing random floats with the test-local quantizers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "base/thread_pool.h"
#include "kernels/cpu/isa.h"
#include "kernels/ops.h"
#include "kernels/ref/dequant.h"
#include "quantize_for_test.h"

namespace podserve::kernels {
namespace {

constexpr DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                               DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

bool is_int_dot(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1;
}
bool is_k_quant(DType t) { return t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K; }

float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_float(h);
}

// Worst-case |cpu - ref| for one output of an int-dot type. The cpu path rounds each activation block to
// q * fp16(d), d = amax/127: per element that is off by at most d/2 (rounding) + 127 * d * 2^-11 (d stored as
// fp16; a normal half for these N(0,1) inputs) < 0.6 d. Q4_1 computes sum(dw q a) + m * s, s = fp16(d * sum q),
// instead of sum((dw q + m) x); writing dw q = w - m bounds that by sum(|w| + 2|m|) * 0.6 d + |m| |sum x| 2^-10.
// Plus float accumulation over <= 24 blocks: 1e-5 * sum|w x|.
double int_dot_bound(DType type, const uint8_t* wrow, const float* w, const float* x, int64_t cols) {
  double bound = 0.0;
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* wb = w + 32 * b;
    const float* xb = x + 32 * b;
    const double delta = 0.6 * test_quant::amax_of(xb, 32) / 127.0;
    const double m = type == DType::kQ4_1   ? std::fabs(load_half(wrow + 20 * b + 2))
                     : type == DType::kQ5_1 ? std::fabs(load_half(wrow + 24 * b + 2))
                                            : 0.0;
    double sw = 0.0, sx = 0.0, swx = 0.0;
    for (int c = 0; c < 32; ++c) {
      sw += std::fabs(wb[c]);
      sx += std::fabs(xb[c]);
      swx += std::fabs(static_cast<double>(wb[c]) * xb[c]);
    }
    bound += (sw + 64.0 * m) * delta + m * sx * 0x1.0p-10 + 1e-5 * swx;
  }
  return bound;
}

// The same for the K-quants (Q8_K activations: q * d, d = max/-127 in float, per 256-element super-block): each
// element is off by at most d/2 (< 0.6 d), and the integer formulation sum_j (d sc_j dot_j - dmin m_j asum_j) is
// exact up to a few float roundings of its terms, each <= (|w| + dmin m_j) |x|.
double k_dot_bound(DType type, const uint8_t* wrow, const float* w, const float* x, int64_t cols) {
  double bound = 0.0;
  for (int64_t b = 0; b < cols / 256; ++b) {
    const float* wb = w + 256 * b;
    const float* xb = x + 256 * b;
    const double delta = 0.6 * test_quant::amax_of(xb, 256) / 127.0;
    double mins[8] = {};
    if (type != DType::kQ6_K) {  // dmin * m_j (6-bit mins, as get_scale_min_k4)
      const uint8_t* blk = wrow + b * dtype_block_bytes(type);
      const uint8_t* q = blk + 4;
      for (int j = 0; j < 8; ++j) {
        const int m = j < 4 ? q[j + 4] & 63 : (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        mins[j] = std::fabs(load_half(blk + 2)) * m;
      }
    }
    double sw = 0.0, swx = 0.0;
    for (int c = 0; c < 256; ++c) {
      sw += std::fabs(wb[c]);
      swx += (std::fabs(static_cast<double>(wb[c])) + mins[c / 32]) * std::fabs(xb[c]);
    }
    bound += sw * delta + 1e-5 * swx;
  }
  return bound;
}

// Quantized weights must decode close to the floats they came from; a layout mistake in the test quantizer
// (or in dequantize_row_ref) would give an error of the order of the signal. Bounds: ~2x the expected NMSE of
// each format's step size on N(0,1) data (e.g. Q4_0: step amax/8 ~ 0.28, variance step^2/12 ~ 6.5e-3).
TEST(TestQuantizer, RoundTripsThroughRefDequant) {
  const std::pair<DType, double> bounds[] = {{DType::kF32, 0.0},    {DType::kF16, 1e-7},  {DType::kBF16, 1e-5},
                                             {DType::kQ8_0, 1e-4},  {DType::kQ4_0, 1.5e-2}, {DType::kQ4_1, 1.5e-2},
                                             {DType::kQ5_0, 4e-3},  {DType::kQ5_1, 4e-3}, {DType::kQ4_K, 1.5e-2},
                                             {DType::kQ5_K, 4e-3},  {DType::kQ6_K, 1e-3}};
  std::mt19937 gen(7);
  const int64_t n = 256 * 16;
  const std::vector<float> x = test_quant::random_normal(gen, n);
  for (const auto& [type, bound] : bounds) {
    const std::vector<uint8_t> q = test_quant::quantize(type, x.data(), n);
    std::vector<float> y(n);
    dequantize_row_ref(type, q.data(), y.data(), n);
    double err = 0.0, ref = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      err += (static_cast<double>(y[i]) - x[i]) * (y[i] - x[i]);
      ref += static_cast<double>(x[i]) * x[i];
    }
    EXPECT_LE(err / ref, bound) << dtype_name(type);
  }
}

TEST(Matmul, SupportsExactlyTheWeightTypes) {
  for (DType t : kAllTypes) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
  EXPECT_FALSE(matmul_supports(DType::kQ8_1));
}

// A type matmul_supports() rejects (loaders never bind one) gives NaN outputs, not a crash.
TEST(Matmul, UnsupportedTypeGivesNanNotACrash) {
  ThreadPool pool(2);
  const int64_t rows = 3, cols = 64, n = 2;
  const std::vector<uint8_t> wq(rows * cols / dtype_block_size(DType::kQ8_1) * dtype_block_bytes(DType::kQ8_1), 1);
  const MatrixView w{DType::kQ8_1, wq.data(), rows, cols};
  const std::vector<float> x(n * cols, 1.0f);
  std::vector<float> y(n * rows, 0.0f);
  cpu::matmul(w, x.data(), y.data(), n, &pool);
  for (float v : y) EXPECT_TRUE(std::isnan(v));
}

// Every instruction-set path this machine has (AMX: tokens as tile rows for 4..64 tokens, the 16-token prefill
// tiles above; AVX-512 / AVX-VNNI / AVX2 / scalar otherwise), each against ref::. Shapes straddle the 4-row and
// 16-row tiles, the AMX token groups (9 and 16 rows, 16 + a partial group) and the 16-token prefill groups.
void check_cpu_matches_ref(cpu::Isa isa) {
  ThreadPool pool1(1), pool3(3);
  std::mt19937 gen(1234);
  for (DType type : kAllTypes) {
    double err_sq = 0.0, ref_sq = 0.0;
    int cases = 0;
    for (int64_t rows : {1, 7, 83}) {
      for (int64_t cols : {32, 96, 256, 768}) {
        if (cols % dtype_block_size(type) != 0) continue;
        const std::vector<int64_t> token_counts =
            rows == 83 && (cols == 96 || cols == 256) ? std::vector<int64_t>{1, 3, 9, 16, 17, 40, 70}
                                                      : std::vector<int64_t>{1, 3, 9, 17};
        const std::vector<float> wf = test_quant::random_normal(gen, rows * cols);
        const std::vector<uint8_t> wq = test_quant::quantize(type, wf.data(), rows * cols);
        const MatrixView w{type, wq.data(), rows, cols};
        std::vector<float> wd(rows * cols);  // the weights as both paths see them
        for (int64_t r = 0; r < rows; ++r) dequantize_row_ref(type, w.row(r), wd.data() + r * cols, cols);
        for (int64_t n : token_counts) {
          SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << dtype_name(type) << " rows=" << rows << " cols=" << cols << " n=" << n);
          const std::vector<float> x = test_quant::random_normal(gen, n * cols);
          std::vector<float> want(n * rows), got1(n * rows, NAN), got3(n * rows, NAN);
          ref::matmul(w, x.data(), want.data(), n);
          cpu::matmul(w, x.data(), got1.data(), n, &pool1);
          cpu::matmul(w, x.data(), got3.data(), n, &pool3);
          // Rows are split across threads but each output is computed by the same code: bit-identical.
          ASSERT_EQ(std::memcmp(got1.data(), got3.data(), got1.size() * sizeof(float)), 0);
          int bad = 0;
          for (int64_t t = 0; t < n; ++t) {
            const float* xt = x.data() + t * cols;
            for (int64_t r = 0; r < rows; ++r) {
              const float* wr = wd.data() + r * cols;
              double tol;
              if (is_int_dot(type)) {
                tol = int_dot_bound(type, w.row(r), wr, xt, cols);
              } else if (is_k_quant(type)) {
                tol = k_dot_bound(type, w.row(r), wr, xt, cols);
              } else {
                // Same dequantized row on both sides; only float vs double summation differs: <= ~100
                // roundings of 2^-24 over <= 768 terms in 8 FMA lanes, so 1e-5 * sum|w x| is safe.
                double swx = 0.0;
                for (int64_t c = 0; c < cols; ++c) swx += std::fabs(static_cast<double>(wr[c]) * xt[c]);
                tol = 1e-5 * swx;
              }
              const double y = want[t * rows + r], e = got1[t * rows + r] - y;
              if (!(std::fabs(e) <= tol) && ++bad <= 3) {
                ADD_FAILURE() << "[t=" << t << ", r=" << r << "] cpu " << got1[t * rows + r] << " ref " << y
                              << " tol " << tol;
              }
              err_sq += e * e;
              ref_sq += y * y;
            }
          }
          EXPECT_EQ(bad, 0);
          ++cases;
        }
      }
    }
    // Statistical check on top of the worst-case one: int8 activations add noise of variance ~(d/2)^2/3 per
    // element, ~3e-5 of the signal for N(0,1) data; 5e-4 is ggml's NMSE bound for quantized-activation ops.
    const double nmse = err_sq / ref_sq;
    std::printf("%-8s %-5s %2d cases, NMSE %.3g\n", cpu::isa_name(isa), dtype_name(type), cases, nmse);
    EXPECT_LT(nmse, is_int_dot(type) || is_k_quant(type) ? 5e-4 : 1e-12) << dtype_name(type);
    EXPECT_GT(cases, 0);
  }
}

TEST(Matmul, CpuMatchesRefOnOddShapesOnEveryIsa) {
  const cpu::Isa detected = cpu::detected_isa();
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvxVnni, cpu::Isa::kAvx512, cpu::Isa::kAmx}) {
    if (isa > detected) continue;
    const cpu::Isa previous = cpu::set_isa_cap(isa);
    check_cpu_matches_ref(isa);
    cpu::set_isa_cap(previous);
  }
}

// The engine promises greedy outputs independent of the batch: a token's matmul output must be the same bits
// whether it runs alone (decode path) or among 70 tokens (AMX prefill path where present), on every path.
TEST(Matmul, SameBitsForEveryBatchSizeAndPath) {
  ThreadPool pool(2);
  std::mt19937 gen(99);
  const cpu::Isa detected = cpu::detected_isa();
  for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K,
                     DType::kQ5_K, DType::kQ6_K}) {
    const int64_t rows = 83, cols = is_k_quant(type) ? 512 : 96, n = 70;
    const std::vector<float> wf = test_quant::random_normal(gen, rows * cols);
    const std::vector<uint8_t> wq = test_quant::quantize(type, wf.data(), rows * cols);
    const MatrixView w{type, wq.data(), rows, cols};
    const std::vector<float> x = test_quant::random_normal(gen, n * cols);
    std::vector<float> first;
    for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvxVnni, cpu::Isa::kAvx512, cpu::Isa::kAmx}) {
      if (isa > detected) continue;
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << dtype_name(type));
      const cpu::Isa previous = cpu::set_isa_cap(isa);
      std::vector<float> batched(n * rows), alone(rows);
      cpu::matmul(w, x.data(), batched.data(), n, &pool);
      for (int64_t t = 0; t < n; t += 13) {
        cpu::matmul(w, x.data() + t * cols, alone.data(), 1, &pool);
        EXPECT_EQ(std::memcmp(alone.data(), batched.data() + t * rows, rows * sizeof(float)), 0) << "token " << t;
      }
      // Smaller batches take the other small-batch paths (AVX-512 below 4 tokens, AMX with tokens as tile rows).
      for (int64_t m : {2, 7, 9, 12, 16, 40}) {
        std::vector<float> part(m * rows);
        cpu::matmul(w, x.data(), part.data(), m, &pool);
        EXPECT_EQ(std::memcmp(part.data(), batched.data(), part.size() * sizeof(float)), 0) << "batch of " << m;
      }
      if (first.empty()) first = batched;
      EXPECT_EQ(std::memcmp(first.data(), batched.data(), batched.size() * sizeof(float)), 0) << "differs from scalar";
      cpu::set_isa_cap(previous);
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
