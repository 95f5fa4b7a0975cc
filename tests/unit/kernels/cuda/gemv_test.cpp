// Decode GEMV, grouped MoE GEMV and the bf16 dequantizer against ref::matmul / ref::dequantize_row_ref, for every
// weight type the device reads, on odd row counts, float rows with a tail, strided x/y and a bias; plus the batch
// invariance contract: a token's outputs are the same bits for any n <= kGemvMaxTokens.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#include "kernels/ops.h"
#include "kernels/ref/dequant.h"
#include "quantize_for_test.h"

namespace podserve::kernels::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_floats;
using testing::rel_error;

constexpr DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                               DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

std::vector<uint8_t> random_matrix(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<uint8_t> m;
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> x = test_quant::random_normal(gen, cols, 0.3f);
    const std::vector<uint8_t> q = test_quant::quantize(type, x.data(), cols);
    m.insert(m.end(), q.begin(), q.end());
  }
  return m;
}

// gemv over n tokens of x (row stride x_stride) into y (row stride y_stride), back as dense [n, rows].
std::vector<float> run_gemv(const MatrixView& host_w, const std::vector<float>& x, int64_t x_stride, int64_t n,
                            const std::vector<float>* bias, int64_t y_stride) {
  DeviceBuffer<uint8_t> w(std::vector<uint8_t>(host_w.data, host_w.data + host_w.rows * host_w.row_bytes()));
  DeviceBuffer<float> d_x(x), d_y(n * y_stride);
  DeviceBuffer<float> d_bias(bias != nullptr ? *bias : std::vector<float>(1));
  const MatrixView view{host_w.type, w.get(), host_w.rows, host_w.cols};
  const Status st = gemv(view, d_x.get(), x_stride, n, bias != nullptr ? d_bias.get() : nullptr, d_y.get(), y_stride,
                         nullptr);
  EXPECT_TRUE(st.ok()) << st.to_string();
  const std::vector<float> y = d_y.download();
  std::vector<float> dense(n * host_w.rows);
  for (int64_t t = 0; t < n; ++t) std::copy_n(y.begin() + t * y_stride, host_w.rows, dense.begin() + t * host_w.rows);
  return dense;
}

TEST(CudaGemv, EveryTypeMatchesRefMatmul) {
  for (DType type : kAllTypes) {
    const int64_t block = dtype_block_size(type);
    // Float rows of 203 elements have a partial 8-element chunk; quantized rows span several blocks.
    for (int64_t cols : {block == 256 ? int64_t{768} : block == 32 ? int64_t{160} : int64_t{203},
                         block == 1 ? int64_t{96} : 2 * block}) {
      const int64_t rows = 19;
      const std::vector<uint8_t> wbytes = random_matrix(type, rows, cols, 3 + static_cast<uint32_t>(cols));
      const MatrixView w{type, wbytes.data(), rows, cols};
      const std::vector<float> bias = random_floats(rows, 4);
      for (int64_t n : {1, 3, 8}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(type) << " cols " << cols << " n " << n);
        const int64_t x_stride = cols + 3, y_stride = rows + 5;
        const std::vector<float> x = random_floats(n * x_stride, 5 + n, -2.0f, 2.0f);
        const std::vector<float> got = run_gemv(w, x, x_stride, n, &bias, y_stride);
        std::vector<float> dense_x(n * cols), want(n * rows);
        for (int64_t t = 0; t < n; ++t) std::copy_n(x.begin() + t * x_stride, cols, dense_x.begin() + t * cols);
        ref::matmul(w, dense_x.data(), want.data(), n);
        for (int64_t t = 0; t < n; ++t) {
          for (int64_t r = 0; r < rows; ++r) want[t * rows + r] += bias[r];
        }
        EXPECT_LT(rel_error(got, want), 2e-6);
      }
    }
  }
}

// Token t's outputs in a batch of 8 equal those of the same row in batches of 1, 2 and 5 (bit for bit).
TEST(CudaGemv, TokenBitsDoNotDependOnBatchSize) {
  for (DType type : {DType::kBF16, DType::kQ4_K, DType::kQ4_1, DType::kQ6_K}) {
    SCOPED_TRACE(dtype_name(type));
    const int64_t rows = 29, cols = 512;
    const std::vector<uint8_t> wbytes = random_matrix(type, rows, cols, 9);
    const MatrixView w{type, wbytes.data(), rows, cols};
    const std::vector<float> x = random_floats(8 * cols, 10);
    const std::vector<float> all = run_gemv(w, x, cols, 8, nullptr, rows);
    for (int64_t n : {1, 2, 5}) {
      for (int64_t first : {int64_t{0}, 8 - n}) {
        const std::vector<float> part(x.begin() + first * cols, x.begin() + (first + n) * cols);
        const std::vector<float> got = run_gemv(w, part, cols, n, nullptr, rows);
        EXPECT_TRUE(std::equal(got.begin(), got.end(), all.begin() + first * rows)) << "n " << n << " from " << first;
      }
    }
  }
}

TEST(CudaGemv, RejectsBadShapes) {
  const MatrixView w{DType::kQ4_0, nullptr, 4, 40};  // not a multiple of 32
  EXPECT_FALSE(gemv(w, nullptr, 40, 1, nullptr, nullptr, 4, nullptr).ok());
  const MatrixView ok{DType::kF32, nullptr, 4, 8};
  EXPECT_FALSE(gemv(ok, nullptr, 8, kGemvMaxTokens + 1, nullptr, nullptr, 4, nullptr).ok());
}

// Every type to bf16: the bf16 rounding of ref::dequantize_row_ref's floats.
TEST(CudaDequantize, Bf16OfRefDequant) {
  for (DType type : kAllTypes) {
    SCOPED_TRACE(dtype_name(type));
    const int64_t rows = 5, cols = dtype_block_size(type) == 256 ? 512 : 96;
    const std::vector<uint8_t> wbytes = random_matrix(type, rows, cols, 12);
    DeviceBuffer<uint8_t> d_w(wbytes);
    DeviceBuffer<uint16_t> d_out(rows * cols);
    ASSERT_TRUE(dequantize_bf16(MatrixView{type, d_w.get(), rows, cols}, d_out.get(), nullptr).ok());
    const std::vector<uint16_t> out = d_out.download();
    std::vector<float> row(cols);
    const MatrixView host{type, wbytes.data(), rows, cols};
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row_ref(type, host.row(r), row.data(), cols);
      for (int64_t c = 0; c < cols; ++c) {
        uint32_t bits;
        std::memcpy(&bits, &row[c], 4);
        ASSERT_EQ(out[r * cols + c], static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16)) << r << "," << c;
      }
    }
  }
}

}  // namespace
}  // namespace podserve::kernels::cuda
