// The K-quant GEMM's activation format against llama.cpp itself: tests/data/kquants/q8k_expected.bin holds the
// block_q8_K bytes llama.cpp's quantize_row_q8_K_ref made from q8k_input.bin (tools/goldens/kquants.py). Both our
// quantizers (scalar and AVX2) must give the same bytes, so our integer dots see llama.cpp's activations.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm_k.h"
#include "test_util.h"

namespace podserve::kernels {
namespace {

TEST(QuantGemmK, ActivationBlocksAreLlamaCppQ8K) {
  static_assert(sizeof(gemm::KActBlock) == 292, "block_q8_K: float d, int8 qs[256], int16 bsums[16]");
  const std::string dir = testing::test_data_dir() + "/kquants";
  const std::string in = testing::read_file(dir + "/q8k_input.bin");
  const std::string want = testing::read_file(dir + "/q8k_expected.bin");
  const int64_t blocks = static_cast<int64_t>(in.size() / (256 * sizeof(float)));
  ASSERT_EQ(blocks, 16);
  ASSERT_EQ(want.size(), static_cast<size_t>(blocks) * sizeof(gemm::KActBlock));
  std::vector<float> x(static_cast<size_t>(blocks) * 256);
  std::memcpy(x.data(), in.data(), in.size());
  // As 4 tokens of 1024 columns and as 16 tokens of 256: blocks do not depend on the row shape.
  for (int64_t cols : {1024, 256}) {
    std::vector<gemm::KActBlock> got(static_cast<size_t>(blocks));
    gemm::quantize_acts_k(x.data(), blocks * 256 / cols, cols, got.data());
    for (int64_t b = 0; b < blocks; ++b) {
      EXPECT_EQ(std::memcmp(&got[b], want.data() + b * sizeof(gemm::KActBlock), sizeof(gemm::KActBlock)), 0)
          << "scalar, block " << b << " (d " << got[b].d << ")";
    }
    if (cpu::detected_isa() < cpu::Isa::kAvx2) continue;
    std::vector<gemm::KActBlock> got2(static_cast<size_t>(blocks));
    gemm::quantize_acts_k_avx2(x.data(), blocks * 256 / cols, cols, got2.data());
    for (int64_t b = 0; b < blocks; ++b) {
      EXPECT_EQ(std::memcmp(&got2[b], want.data() + b * sizeof(gemm::KActBlock), sizeof(gemm::KActBlock)), 0)
          << "avx2, block " << b;
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
