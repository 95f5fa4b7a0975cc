#include "model/device/roofline.h"

#include <gtest/gtest.h>

namespace podserve {
namespace {

// Meta-Llama-3-8B's config.json: 32 layers, hidden 4096, 32/8 heads of 128, MLP 14336, vocab 128256.
ModelConfig llama3_8b() {
  ModelConfig c;
  c.n_layers = 32;
  c.hidden = 4096;
  c.n_heads = 32;
  c.n_kv_heads = 8;
  c.head_dim = 128;
  c.ffn_hidden = 14336;
  c.vocab_size = 128256;
  return c;
}

TEST(Roofline, Llama3_8B) {
  const ModelConfig c = llama3_8b();
  // gpu.md §11: 128 KiB of bf16 K/V per token.
  EXPECT_EQ(kv_bytes_per_token(c, 2), 128u * 1024);
  // The model card's 8.03B parameters less the embedding and the lm-head (2 x 128256 x 4096) are the 6.98B
  // matrix parameters a token multiplies (norms aside); one logits row adds one lm-head pass.
  const double one = prefill_flops(c, 0, 1);
  const double matrix_params = 8.03e9 - 2.0 * 128256 * 4096;
  EXPECT_NEAR(one - 2.0 * 4096 * 128256 - 4.0 * 4096 * 32, 2.0 * matrix_params, 0.005 * 2.0 * matrix_params);
  // Attention is quadratic: at 2048 tokens it adds 4 * 4096 * 32 * 2048 * 2049 / 2 FLOPs.
  EXPECT_NEAR(prefill_flops(c, 0, 2048) - 2048 * (one - 2.0 * 4096 * 128256 - 4.0 * 4096 * 32) - 2.0 * 4096 * 128256,
              4.0 * 4096 * 32 * 2048.0 * 2049 / 2, 1e6);
  // gpu.md §11's H100 row: B=64 at 2k context reads 16.1 GB of weights and 17.2 GB of K/V per step at 3.0 TB/s:
  // 11.1 ms per step, about 5.8k tokens/s.
  EXPECT_NEAR(memory_bound_tokens_per_s(16'100'000'000ull, 131072, 64, 2048, 3.0e12), 5.8e3, 0.1e3);
}

TEST(Roofline, MixtureOfExpertsCountsRoutedExperts) {
  ModelConfig c = llama3_8b();
  EXPECT_NEAR(prefill_flops(c, 2, 1) - prefill_flops(c, 1, 1), 2.0 * 3 * 4096 * 14336 * 32, 1.0);
}

}  // namespace
}  // namespace podserve
