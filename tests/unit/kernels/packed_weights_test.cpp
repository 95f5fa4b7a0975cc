// Weights repacked for the AVX2 path (kernels/cpu/packed_weights.h) give exactly the bits of the file layout on
// the scalar path, for every batch size, row range, thread count and fused op (the engine's batch invariance).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/packed_weights.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/fused_ops.h"
#include "kernels/ops.h"
#include "quantize_for_test.h"

namespace podserve::kernels {
namespace {

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                            DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
constexpr int64_t kTokenCounts[] = {1, 2, 3, 4, 5, 7, 9, 70};

struct Weights {
  std::vector<uint8_t> bytes;
  MatrixView view;
};

Weights random_weights(std::mt19937& gen, DType type, int64_t rows, int64_t cols) {
  const std::vector<float> wf = test_quant::random_normal(gen, rows * cols);
  Weights w;
  w.bytes = test_quant::quantize(type, wf.data(), rows * cols);
  w.view = MatrixView{type, w.bytes.data(), rows, cols};
  return w;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int64_t cols_for(DType type) { return dtype_block_size(type) == 256 ? 512 : 96; }

// Runs fn with the kernels capped to AVX2 (the path that reads packed weights).
template <typename Fn>
void on_avx2(Fn fn) {
  const cpu::Isa previous = cpu::set_isa_cap(cpu::Isa::kAvx2);
  fn();
  cpu::set_isa_cap(previous);
}

class PackedWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cpu::detected_isa() < cpu::Isa::kAvx2) GTEST_SKIP() << "the packed path needs AVX2, which this CPU lacks";
  }
};

TEST_F(PackedWeightsTest, EveryPackableTypeIsPacked) {
  ThreadPool pool(2);
  std::mt19937 gen(1);
  on_avx2([&] {
    for (DType type : kTypes) {
      Weights w = random_weights(gen, type, 9, cols_for(type));
      cpu::PackedWeights packed;
      packed.pack(&w.view, &pool);
      EXPECT_NE(w.view.packed, nullptr) << dtype_name(type);
      EXPECT_EQ(packed.bytes(), gemm::packed_bytes(w.view)) << dtype_name(type);
      // Two groups of 8 rows (the second padded): the file's bytes per row (K-quants: + unpacked scales).
      EXPECT_EQ(gemm::packed_bytes(w.view), 2 * (w.view.cols / dtype_block_size(type)) * gemm::group_block_bytes(type));
      EXPECT_GE(gemm::group_block_bytes(type), 8 * static_cast<int64_t>(dtype_block_bytes(type)));
    }
  });
  // Float weights have no packed layout.
  std::vector<float> f(8 * 16, 1.0f);
  MatrixView fw{DType::kF32, reinterpret_cast<const uint8_t*>(f.data()), 8, 16};
  cpu::PackedWeights packed;
  on_avx2([&] { packed.pack(&fw, &pool); });
  EXPECT_EQ(fw.packed, nullptr);
}

TEST_F(PackedWeightsTest, MatmulGivesTheFileLayoutsBitsOnEveryBatchSize) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  std::mt19937 gen(2);
  for (DType type : kTypes) {
    for (int64_t rows : {8, 83, 5, 48}) {
      const int64_t cols = cols_for(type);
      Weights w = random_weights(gen, type, rows, cols);
      MatrixView packed_view = w.view;
      cpu::PackedWeights packed;
      on_avx2([&] { packed.pack(&packed_view, &pool1); });
      ASSERT_NE(packed_view.packed, nullptr);
      const int64_t n_max = 70;
      const std::vector<float> x = test_quant::random_normal(gen, n_max * cols);
      std::vector<float> want(n_max * rows);
      const cpu::Isa previous = cpu::set_isa_cap(cpu::Isa::kScalar);
      cpu::matmul(w.view, x.data(), want.data(), n_max, &pool1);
      cpu::set_isa_cap(previous);
      on_avx2([&] {
        for (int64_t n : kTokenCounts) {
          for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
            SCOPED_TRACE(::testing::Message() << dtype_name(type) << " rows=" << rows << " n=" << n << " threads="
                                              << pool->num_threads());
            std::vector<float> got(n * rows, NAN);
            cpu::matmul(packed_view, x.data(), got.data(), n, pool);
            EXPECT_TRUE(same_bits(got, std::vector<float>(want.begin(), want.begin() + n * rows)));
          }
        }
      });
    }
  }
}

// A range of rows that starts and ends inside groups writes exactly those rows, with the file layout's bits.
TEST_F(PackedWeightsTest, RowRangesInsideGroups) {
  ThreadPool pool(1);
  std::mt19937 gen(3);
  for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {
    const int64_t rows = 83, cols = cols_for(type), n = 5;
    Weights w = random_weights(gen, type, rows, cols);
    MatrixView packed_view = w.view;
    cpu::PackedWeights packed;
    on_avx2([&] { packed.pack(&packed_view, &pool); });
    const std::vector<float> x = test_quant::random_normal(gen, n * cols);
    std::vector<gemm::ActBlock> acts(n * cols / 32);
    gemm::quantize_acts_scalar(x.data(), n, cols, acts.data());
    std::vector<float> want(n * rows, NAN), got(n * rows, NAN);
    gemm::gemm_rows_scalar(w.view, acts.data(), n, 3, 77, want.data());
    gemm::gemm_rows_packed_avx2(packed_view, acts.data(), n, 3, 77, got.data());
    for (int64_t i = 0; i < n * rows; ++i) {
      const int64_t r = i % rows;
      if (r >= 3 && r < 77) {
        EXPECT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << dtype_name(type) << " row " << r;
      } else {
        EXPECT_TRUE(std::isnan(got[i])) << dtype_name(type) << " row " << r << " is outside the range";
      }
    }
  }
}

TEST_F(PackedWeightsTest, FusedOpsGiveTheUnpackedBits) {
  ThreadPool pool(2);
  std::mt19937 gen(4);
  for (DType type : kTypes) {
    const int64_t cols = cols_for(type);
    Weights a = random_weights(gen, type, 48, cols), b = random_weights(gen, type, 83, cols);
    MatrixView pa = a.view, pb = b.view;
    cpu::PackedWeights packed;
    on_avx2([&] {
      packed.pack(&pa, &pool);
      packed.pack(&pb, &pool);
    });
    for (int64_t n : {1, 3, 9}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(type) << " n=" << n);
      const std::vector<float> x = test_quant::random_normal(gen, n * cols, 0.3f);
      on_avx2([&] {
        const MatrixView plain[2] = {a.view, b.view}, with_packed[2] = {pa, pb};
        std::vector<float> want_a(n * 48), want_b(n * 83), got_a(n * 48, NAN), got_b(n * 83, NAN);
        float* want_ys[2] = {want_a.data(), want_b.data()};
        float* got_ys[2] = {got_a.data(), got_b.data()};
        cpu::matmul_many(plain, x.data(), want_ys, n, &pool);
        cpu::matmul_many(with_packed, x.data(), got_ys, n, &pool);
        EXPECT_TRUE(same_bits(got_a, want_a));
        EXPECT_TRUE(same_bits(got_b, want_b));
        const Weights up = random_weights(gen, type, 48, cols);
        MatrixView pup = up.view;
        packed.pack(&pup, &pool);
        std::vector<float> want(n * 48), scratch(n * 48), got(n * 48, NAN);
        cpu::matmul_swiglu(a.view, up.view, x.data(), want.data(), scratch.data(), n, &pool);
        cpu::matmul_swiglu(pa, pup, x.data(), got.data(), scratch.data(), n, &pool);
        EXPECT_TRUE(same_bits(got, want));
      });
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
