// cpu::matmul for float weights (F32, F16, BF16; cpu/float_gemm*) against ref::matmul on odd shapes, on every
// instruction-set path this machine has, and the bit contract of float_gemm.h: one output is the same bits
// whatever the path, the batch size (decode tiles vs converted prefill panels, token blocks) or the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu/isa.h"
#include "kernels/ops.h"
#include "kernels/ref/dequant.h"
#include "quantize_for_test.h"

namespace podserve::kernels {
namespace {

constexpr cpu::Isa kIsas[] = {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvxVnni, cpu::Isa::kAvx512, cpu::Isa::kAmx};
constexpr DType kTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
// 1: decode; 2, 7: partial token tiles; 8, 9: the first prefill panels; 40 (and 61 with the widest rows): several
// token blocks, the last one partial.
constexpr int64_t kTokenCounts[] = {1, 2, 7, 8, 9, 40, 61};

struct Shape {
  int64_t rows, cols;
};
// Rows straddle the 2- and 4-row passes and the 16-row work units; cols straddle the 16-element chunks (1, 7, 33:
// only tail; 300: chunks + tail; 48: whole chunks only, the AVX2 f32 panels' half-lane loop) and 3001 makes token
// blocks shorter than 61 tokens.
constexpr Shape kShapes[] = {{1, 1}, {5, 7}, {3, 16}, {10, 48}, {83, 33}, {37, 300}, {6, 3001}};

TEST(FloatGemm, MatchesRefAndSameBitsOnEveryPathBatchAndThreadCount) {
  ThreadPool pool1(1), pool3(3);
  std::mt19937 gen(4321);
  const cpu::Isa detected = cpu::detected_isa();
  for (DType type : kTypes) {
    for (const Shape& s : kShapes) {
      const int64_t n_max = kTokenCounts[std::size(kTokenCounts) - 1];
      const std::vector<float> wf = test_quant::random_normal(gen, s.rows * s.cols);
      const std::vector<uint8_t> wq = test_quant::quantize(type, wf.data(), s.rows * s.cols);
      const MatrixView w{type, wq.data(), s.rows, s.cols};
      std::vector<float> wd(s.rows * s.cols);  // the weights as every path sees them (exact conversion)
      for (int64_t r = 0; r < s.rows; ++r) dequantize_row_ref(type, w.row(r), wd.data() + r * s.cols, s.cols);
      const std::vector<float> x = test_quant::random_normal(gen, n_max * s.cols);

      // The reference: ref:: in double; every output within the float-summation bound of it.
      std::vector<float> want(n_max * s.rows);
      ref::matmul(w, x.data(), want.data(), n_max);
      // Canonical bits: the scalar path, all tokens at once.
      const cpu::Isa previous = cpu::set_isa_cap(cpu::Isa::kScalar);
      std::vector<float> canonical(n_max * s.rows, NAN);
      cpu::matmul(w, x.data(), canonical.data(), n_max, &pool1);
      cpu::set_isa_cap(previous);
      int bad = 0;
      for (int64_t t = 0; t < n_max; ++t) {
        for (int64_t r = 0; r < s.rows; ++r) {
          // fma per lane over cols/16 + 1 chunks and a 4-level tree: well under 1e-5 * sum|w x| (float vs double).
          double swx = 0.0;
          for (int64_t c = 0; c < s.cols; ++c) swx += std::fabs(static_cast<double>(wd[r * s.cols + c]) * x[t * s.cols + c]);
          const double got = canonical[t * s.rows + r], ref = want[t * s.rows + r];
          if (!(std::fabs(got - ref) <= 1e-5 * swx) && ++bad <= 3) {
            ADD_FAILURE() << dtype_name(type) << " " << s.rows << "x" << s.cols << " [t=" << t << ", r=" << r
                          << "] scalar " << got << " ref " << ref;
          }
        }
      }
      EXPECT_EQ(bad, 0);

      for (cpu::Isa isa : kIsas) {
        if (isa > detected) continue;
        const cpu::Isa prev = cpu::set_isa_cap(isa);
        for (int64_t n : kTokenCounts) {
          SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << dtype_name(type) << " rows=" << s.rows
                                            << " cols=" << s.cols << " n=" << n);
          for (ThreadPool* pool : {&pool1, &pool3}) {
            std::vector<float> got(n * s.rows, NAN);
            cpu::matmul(w, x.data(), got.data(), n, pool);
            ASSERT_EQ(std::memcmp(got.data(), canonical.data(), got.size() * sizeof(float)), 0)
                << "differs from the scalar path over " << n_max << " tokens";
          }
        }
        cpu::set_isa_cap(prev);
      }
    }
  }
}

// Non-finite weights and activations propagate as in ref:: (no lane drops an inf or NaN).
TEST(FloatGemm, PropagatesInfAndNan) {
  ThreadPool pool(2);
  const int64_t rows = 4, cols = 37, n = 9;
  std::vector<float> wf(rows * cols, 0.5f), x(n * cols, 1.0f);
  wf[1 * cols + 36] = INFINITY;  // in the tail chunk of row 1
  x[3 * cols + 5] = NAN;         // token 3, a full chunk
  for (DType type : kTypes) {
    const std::vector<uint8_t> wq = test_quant::quantize(type, wf.data(), rows * cols);
    const MatrixView w{type, wq.data(), rows, cols};
    for (cpu::Isa isa : kIsas) {
      if (isa > cpu::detected_isa()) continue;
      const cpu::Isa prev = cpu::set_isa_cap(isa);
      std::vector<float> want(n * rows), got(n * rows);
      ref::matmul(w, x.data(), want.data(), n);
      cpu::matmul(w, x.data(), got.data(), n, &pool);
      for (int64_t i = 0; i < n * rows; ++i) {
        EXPECT_EQ(std::isnan(got[i]), std::isnan(want[i])) << dtype_name(type) << " " << cpu::isa_name(isa) << " " << i;
        if (!std::isnan(want[i])) {
          EXPECT_EQ(got[i], want[i]) << dtype_name(type) << " " << cpu::isa_name(isa) << " " << i;
        }
      }
      cpu::set_isa_cap(prev);
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
