// Embedding, RMSNorm, residual, bias, activations, soft-cap and 16-bit conversion kernels against ref:: and
// base/fp16.h, on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#if defined(PODSERVE_SIMT_EMU)
#include "kernels/cuda/simt.h"
#endif
#include "kernels/model_ops.h"
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

// Every type's rows come back with ref::dequantize_row_ref's exact bits (times the scale), in any token order;
// an id outside the table gives NaN instead of a read out of bounds.
TEST(CudaEmbedding, EveryTypeMatchesRefDequantBits) {
  std::mt19937 gen(7);
  for (DType type : kAllTypes) {
    SCOPED_TRACE(dtype_name(type));
    const int64_t rows = 37, cols = dtype_block_size(type) == 256 ? 512 : 96;
    std::vector<uint8_t> table;
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> x = test_quant::random_normal(gen, cols, 0.5f);
      const std::vector<uint8_t> q = test_quant::quantize(type, x.data(), cols);
      table.insert(table.end(), q.begin(), q.end());
    }
    const std::vector<int32_t> tokens = {5, 0, 36, 5, 17, -1, 37};
    for (float scale : {1.0f, std::sqrt(640.0f)}) {
      DeviceBuffer<uint8_t> d_table(table);
      DeviceBuffer<int32_t> d_tokens(tokens);
      DeviceBuffer<float> d_out(tokens.size() * cols);
      const MatrixView view{type, d_table.get(), rows, cols};
      ASSERT_TRUE(embedding(view, d_tokens.get(), static_cast<int64_t>(tokens.size()), scale, d_out.get(), nullptr).ok());
      const std::vector<float> out = d_out.download();
      const MatrixView host{type, table.data(), rows, cols};
      std::vector<float> want(cols);
      for (size_t t = 0; t < tokens.size(); ++t) {
        if (tokens[t] < 0 || tokens[t] >= rows) {
          for (int64_t c = 0; c < cols; ++c) EXPECT_TRUE(std::isnan(out[t * cols + c]));
          continue;
        }
        dequantize_row_ref(type, host.row(tokens[t]), want.data(), cols);
        for (int64_t c = 0; c < cols; ++c) {
          ASSERT_EQ(out[t * cols + c], want[c] * scale) << "token " << t << " col " << c;
        }
      }
    }
  }
}

// Both kernels (a warp per row up to 1024 elements, a block per row above), with a row gather and strides.
TEST(CudaRmsNorm, MatchesRefOnOddShapes) {
  for (int64_t dim : {64, 80, 576, 1000, 1536, 5000}) {
    SCOPED_TRACE(dim);
    const int64_t rows = 7, x_stride = dim + 3, y_stride = dim + 5;
    const std::vector<float> x = random_floats(rows * x_stride, 1 + dim, -3.0f, 3.0f);
    const std::vector<float> w = random_floats(dim, 2 + dim, 0.5f, 1.5f);
    const std::vector<int32_t> index = {6, 0, 3, 3};
    DeviceBuffer<float> d_x(x), d_w(w), d_y(rows * y_stride);
    DeviceBuffer<int32_t> d_index(index);
    ASSERT_TRUE(rms_norm(d_x.get(), x_stride, nullptr, d_w.get(), d_y.get(), y_stride, rows, dim, 1e-6f, nullptr).ok());
    std::vector<float> y = d_y.download(), got, want(dim);
    std::vector<float> wants;
    for (int64_t r = 0; r < rows; ++r) {
      ref::rms_norm(x.data() + r * x_stride, w.data(), want.data(), dim, 1e-6f);
      wants.insert(wants.end(), want.begin(), want.end());
      got.insert(got.end(), y.begin() + r * y_stride, y.begin() + r * y_stride + dim);
    }
    EXPECT_LT(rel_error(got, wants), 1e-6);

    DeviceBuffer<float> d_g(index.size() * dim);
    ASSERT_TRUE(rms_norm(d_x.get(), x_stride, d_index.get(), d_w.get(), d_g.get(), dim, 4, dim, 1e-6f, nullptr).ok());
    got = d_g.download();
    wants.clear();
    for (int32_t r : index) {
      ref::rms_norm(x.data() + r * x_stride, w.data(), want.data(), dim, 1e-6f);
      wants.insert(wants.end(), want.begin(), want.end());
    }
    EXPECT_LT(rel_error(got, wants), 1e-6);
  }
}

// x += h, y = rms_norm(x) * w: x exactly the float sums, y as ref::rms_norm of them; y may alias h.
TEST(CudaRmsNorm, AddRmsNormUpdatesResidual) {
  for (int64_t dim : {96, 2048 + 24}) {
    SCOPED_TRACE(dim);
    const int64_t rows = 5;
    const std::vector<float> x = random_floats(rows * dim, 3, -2.0f, 2.0f), h = random_floats(rows * dim, 4);
    const std::vector<float> w = random_floats(dim, 5, 0.5f, 1.5f);
    DeviceBuffer<float> d_x(x), d_h(h), d_w(w);
    ASSERT_TRUE(add_rms_norm(d_x.get(), d_h.get(), d_w.get(), d_h.get(), rows, dim, 1e-5f, nullptr).ok());
    const std::vector<float> new_x = d_x.download(), y = d_h.download();
    std::vector<float> want_x(rows * dim), want_y(rows * dim);
    for (int64_t i = 0; i < rows * dim; ++i) want_x[i] = x[i] + h[i];
    EXPECT_EQ(new_x, want_x);
    for (int64_t r = 0; r < rows; ++r) ref::rms_norm(want_x.data() + r * dim, w.data(), want_y.data() + r * dim, dim, 1e-5f);
    EXPECT_LT(rel_error(y, want_y), 1e-6);
  }
}

// SiLU and GELU-tanh times up, on a fused gate|up buffer written in place over its gate half.
TEST(CudaActMul, FusedGateUpInPlace) {
  const int64_t rows = 3, cols = 333;
  const std::vector<float> gu = random_floats(rows * 2 * cols, 9, -6.0f, 6.0f);
  for (Activation act : {Activation::kSilu, Activation::kGeluTanh}) {
    DeviceBuffer<float> d(gu);
    ASSERT_TRUE(act_mul(act, d.get(), 2 * cols, d.get() + cols, 2 * cols, d.get(), 2 * cols, rows, cols, nullptr).ok());
    const std::vector<float> out = d.download();
    std::vector<float> got, want(cols);
    std::vector<float> wants;
    for (int64_t r = 0; r < rows; ++r) {
      const float* g = gu.data() + r * 2 * cols;
      if (act == Activation::kSilu) ref::silu_mul(g, g + cols, want.data(), cols);
      else ref::gelu_tanh_mul(g, g + cols, want.data(), cols);
      wants.insert(wants.end(), want.begin(), want.end());
      got.insert(got.end(), out.begin() + r * 2 * cols, out.begin() + r * 2 * cols + cols);
    }
    EXPECT_LT(rel_error(got, wants), 1e-6);
  }
}

TEST(CudaElementwise, AddBiasSoftcapAdd) {
  const int64_t rows = 4, cols = 37, stride = 50;
  std::vector<float> y = random_floats(rows * stride, 11, -40.0f, 40.0f);
  const std::vector<float> bias = random_floats(cols, 12), h = random_floats(rows * stride, 13);
  DeviceBuffer<float> d_y(y), d_bias(bias), d_h(h);
  ASSERT_TRUE(add_bias(d_y.get(), stride, d_bias.get(), rows, cols, nullptr).ok());
  ASSERT_TRUE(softcap(d_y.get(), rows * stride, 30.0f, nullptr).ok());
  ASSERT_TRUE(add(d_y.get(), d_h.get(), rows * stride, nullptr).ok());
  const std::vector<float> got = d_y.download();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) y[r * stride + c] += bias[c];
  }
  for (size_t i = 0; i < y.size(); ++i) y[i] = std::tanh(y[i] / 30.0f) * 30.0f + h[i];
  EXPECT_LT(rel_error(got, y), 1e-6);
  EXPECT_FALSE(softcap(d_y.get(), 1, 0.0f, nullptr).ok());
}

// Round to nearest even, subnormals and overflow included: the bits of base/fp16.h and of a bf16 rounding.
TEST(CudaElementwise, SixteenBitConversionsRoundToNearestEven) {
  std::vector<float> x = random_floats(1000, 21, -70000.0f, 70000.0f);
  const std::vector<float> small = random_floats(1000, 22, -1e-4f, 1e-4f);
  x.insert(x.end(), small.begin(), small.end());
  x.insert(x.end(), {0.0f, -0.0f, 65504.0f, 65520.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 1.00390625f, 1.01171875f});
  DeviceBuffer<float> d_x(x);
  DeviceBuffer<uint16_t> d_h(x.size()), d_b(x.size());
  ASSERT_TRUE(to_fp16(d_x.get(), d_h.get(), static_cast<int64_t>(x.size()), nullptr).ok());
  ASSERT_TRUE(to_bf16(d_x.get(), d_b.get(), static_cast<int64_t>(x.size()), nullptr).ok());
  const std::vector<uint16_t> h = d_h.download(), b = d_b.download();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], float_to_fp16(x[i])) << x[i];
    uint32_t bits;
    std::memcpy(&bits, &x[i], 4);
    EXPECT_EQ(b[i], static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16)) << x[i];
  }
}

#if defined(PODSERVE_SIMT_EMU)
// The emulator stops on an access a GPU would fault on (a vector load or store not aligned to its width), so a
// kernel's misaligned pointer fails here, not first on a GPU.
TEST(SimtEmulatorDeathTest, MisalignedVectorAccessStops) {
  alignas(16) uint8_t bytes[48] = {};
  EXPECT_DEATH(simt::load16(bytes + 8), "misaligned");
  EXPECT_DEATH(simt::store16(bytes + 4, simt::U32x4{}), "misaligned");
  EXPECT_DEATH(simt::load<uint32_t>(bytes + 2), "misaligned");
  EXPECT_EQ(simt::load<uint32_t>(bytes + 4), 0u);  // aligned: fine
}
#endif

}  // namespace
}  // namespace podserve::kernels::cuda
