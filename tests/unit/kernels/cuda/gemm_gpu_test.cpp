// The cuBLASLt prefill GEMM (GPU only: the emulator has no tensor cores) against ref::matmul, for float and
// quantized weights (dequantized to bf16 first), strided x / y and a bias; and matmul()'s dispatch between the GEMV
// and the GEMM.
#include <gtest/gtest.h>

#include <vector>

#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#include "kernels/ops.h"
#include "quantize_for_test.h"

namespace podserve::kernels::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_floats;
using testing::rel_error;

TEST(CudaGemm, MatchesRefMatmulPerOperandPrecision) {
  auto ctx = GemmContext::create(300, 1024, 512 * 1024, nullptr);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  EXPECT_GE((*ctx)->device_bytes(), size_t{32} << 20);
  // bf16 operands keep 8 significant bits, fp16 11: the bounds are a few of those roundings over the sums.
  const std::pair<DType, double> cases[] = {{DType::kF32, 1e-5}, {DType::kF16, 3e-3}, {DType::kBF16, 2e-2},
                                            {DType::kQ8_0, 2e-2}, {DType::kQ4_K, 2e-2}, {DType::kQ6_K, 2e-2}};
  for (auto [type, bound] : cases) {
    const int64_t rows = 301, cols = 512;
    std::mt19937 gen(3);
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> v = test_quant::random_normal(gen, cols, 0.3f);
      const std::vector<uint8_t> q = test_quant::quantize(type, v.data(), cols);
      w.insert(w.end(), q.begin(), q.end());
    }
    DeviceBuffer<uint8_t> d_w(w);
    const MatrixView view{type, d_w.get(), rows, cols}, host{type, w.data(), rows, cols};
    const std::vector<float> bias = random_floats(rows, 4);
    DeviceBuffer<float> d_bias(bias);
    for (int64_t n : {9, 64, 300}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(type) << " n " << n);
      const int64_t x_stride = n == 64 ? cols + 4 : cols, y_stride = n == 64 ? rows + 3 : rows;
      const std::vector<float> x = random_floats(n * x_stride, 5 + n);
      DeviceBuffer<float> d_x(x), d_y(n * y_stride);
      ASSERT_TRUE((*ctx)->warm_up(view, n).ok());
      const Status st = matmul(ctx->get(), view, d_x.get(), x_stride, n, d_bias.get(), d_y.get(), y_stride, nullptr);
      ASSERT_TRUE(st.ok()) << st.to_string();
      const std::vector<float> y = d_y.download();
      std::vector<float> dense_x(n * cols), want(n * rows), got(n * rows);
      for (int64_t t = 0; t < n; ++t) {
        std::copy_n(x.begin() + t * x_stride, cols, dense_x.begin() + t * cols);
        std::copy_n(y.begin() + t * y_stride, rows, got.begin() + t * rows);
      }
      ref::matmul(host, dense_x.data(), want.data(), n);
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t r = 0; r < rows; ++r) want[t * rows + r] += bias[r];
      }
      EXPECT_LT(rel_error(got, want), bound);
    }
  }
}

// matmul() sends n <= kGemvMaxTokens to the GEMV (the same bits as gemv()), more to the GEMM.
TEST(CudaGemm, MatmulDispatchesSmallBatchesToTheGemv) {
  auto ctx = GemmContext::create(64, 256, 0, nullptr);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  const int64_t rows = 40, cols = 256;
  std::mt19937 gen(8);
  const std::vector<float> wf = test_quant::random_normal(gen, rows * cols, 0.3f);
  const std::vector<uint8_t> w = test_quant::quantize(DType::kBF16, wf.data(), rows * cols);
  DeviceBuffer<uint8_t> d_w(w);
  const MatrixView view{DType::kBF16, d_w.get(), rows, cols};
  const std::vector<float> x = random_floats(8 * cols, 9);
  DeviceBuffer<float> d_x(x), d_a(8 * rows), d_b(8 * rows);
  ASSERT_TRUE(matmul(ctx->get(), view, d_x.get(), cols, 8, nullptr, d_a.get(), rows, nullptr).ok());
  ASSERT_TRUE(gemv(view, d_x.get(), cols, 8, nullptr, d_b.get(), rows, nullptr).ok());
  EXPECT_EQ(d_a.download(), d_b.download());
  EXPECT_FALSE(matmul(nullptr, view, d_x.get(), cols, 9, nullptr, d_a.get(), rows, nullptr).ok());
  // A quantized weight needs the weight scratch this context was created without.
  const std::vector<uint8_t> q = test_quant::quantize(DType::kQ8_0, wf.data(), rows * cols);
  DeviceBuffer<uint8_t> d_q(q);
  DeviceBuffer<float> d_x64(64 * cols), d_y64(64 * rows);
  EXPECT_FALSE((*ctx)->gemm(MatrixView{DType::kQ8_0, d_q.get(), rows, cols}, d_x64.get(), cols, 64, nullptr,
                            d_y64.get(), rows, nullptr).ok());
}

}  // namespace
}  // namespace podserve::kernels::cuda
