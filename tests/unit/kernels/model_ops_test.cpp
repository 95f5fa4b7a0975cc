// model_ops.h: the windowed / soft-capped attention against a direct double-precision computation from the
// definitions, fp16 and float32 histories giving the same result, and rotate_half RoPE against its formula.
// (The ops are also checked end to end against transformers in tests/model/tiny_models_test.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/model_ops.h"

namespace podserve::kernels {
namespace {

// softmax over positions (first, n_ctx) of capped scores, straight from the math, in double.
std::vector<double> expected_attention(const std::vector<float>& q, const std::vector<float>& k,
                                       const std::vector<float>& v, int64_t n_ctx, int64_t d,
                                       const AttentionOptions& o) {
  const int64_t first = o.window > 0 ? std::max<int64_t>(0, n_ctx - o.window) : 0;
  std::vector<double> s;
  double mx = -1e300;
  for (int64_t p = first; p < n_ctx; ++p) {
    double dot = 0;
    for (int64_t i = 0; i < d; ++i) dot += double{q[i]} * k[p * d + i];
    dot *= o.scale;
    if (o.softcap > 0) dot = std::tanh(dot / o.softcap) * o.softcap;
    s.push_back(dot);
    mx = std::max(mx, dot);
  }
  double sum = 0;
  for (double& x : s) sum += (x = std::exp(x - mx));
  std::vector<double> out(d, 0.0);
  for (int64_t p = first; p < n_ctx; ++p) {
    for (int64_t i = 0; i < d; ++i) out[i] += s[p - first] / sum * v[p * d + i];
  }
  return out;
}

TEST(ModelOps, AttentionWithWindowAndSoftcap) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t d = 16, n_ctx = 37, block = 8;
  std::vector<int32_t> table = {3, 0, 4, 1, 2};  // 5 blocks of 8, scrambled
  std::vector<float> q(d), k(n_ctx * d), v(n_ctx * d);
  for (auto& x : q) x = 3.0f * normal(gen);
  for (auto& x : k) x = round_to_fp16(normal(gen));
  for (auto& x : v) x = round_to_fp16(normal(gen));
  // Paged copies: position p lives in row table[p / block] * block + p % block.
  std::vector<float> k32(5 * block * d), v32(5 * block * d);
  std::vector<uint16_t> k16(5 * block * d), v16(5 * block * d);
  for (int64_t p = 0; p < n_ctx; ++p) {
    const int64_t row = table[p / block] * block + p % block;
    for (int64_t i = 0; i < d; ++i) {
      k32[row * d + i] = k[p * d + i];
      v32[row * d + i] = v[p * d + i];
      k16[row * d + i] = float_to_fp16(k[p * d + i]);
      v16[row * d + i] = float_to_fp16(v[p * d + i]);
    }
  }
  const PagedKvF32 kv32{k32.data(), v32.data(), d, table.data(), block};
  const PagedKv kv16{k16.data(), v16.data(), d, table.data(), block};
  for (const AttentionOptions& o : {AttentionOptions{0.25f, 0.0f, 0}, AttentionOptions{0.25f, 2.0f, 0},
                                    AttentionOptions{0.25f, 0.0f, 5}, AttentionOptions{0.25f, 1.5f, 12},
                                    AttentionOptions{0.25f, 0.0f, 100}}) {
    SCOPED_TRACE(::testing::Message() << "softcap " << o.softcap << " window " << o.window);
    const std::vector<double> want = expected_attention(q, k, v, n_ctx, d, o);
    std::vector<float> a(d), b(d), c(d);
    cpu::attention_head(q.data(), kv32, n_ctx, d, o, a.data());
    cpu::attention_head(q.data(), kv16, n_ctx, d, o, b.data());
    ref::attention_head(q.data(), kv16, n_ctx, d, o, c.data());
    for (int64_t i = 0; i < d; ++i) {
      EXPECT_NEAR(a[i], want[i], 1e-5);
      EXPECT_NEAR(b[i], want[i], 2e-3);  // the optimized fp16 kernel rounds probabilities (ops_test.cpp bounds it)
      EXPECT_NEAR(c[i], want[i], 1e-5);
    }
  }
}

TEST(ModelOps, RopeRotateHalfAndGelu) {
  const int64_t heads = 2, d = 8, rot = 6;
  std::vector<float> x(heads * d);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) - 0.5f;
  const std::vector<float> orig = x;
  const float inv_freq[3] = {1.0f, 0.1f, 0.01f};
  cpu::rope_rotate_half(x.data(), heads, d, rot, 7, inv_freq, 1.5f);
  for (int64_t h = 0; h < heads; ++h) {
    const float* o = orig.data() + h * d;
    for (int64_t i = 0; i < rot / 2; ++i) {
      const double a = 7.0 * inv_freq[i], c = std::cos(a) * 1.5, s = std::sin(a) * 1.5;
      EXPECT_NEAR(x[h * d + i], o[i] * c - o[i + rot / 2] * s, 1e-5);
      EXPECT_NEAR(x[h * d + i + rot / 2], o[i + rot / 2] * c + o[i] * s, 1e-5);
    }
    for (int64_t i = rot; i < d; ++i) EXPECT_EQ(x[h * d + i], o[i]);  // partial rotary: the rest passes through
  }
  const float g[4] = {-3.0f, -0.5f, 0.0f, 2.0f}, up[4] = {1.0f, 2.0f, 3.0f, -1.0f};
  float out[4];
  cpu::gelu_tanh_mul(g, up, out, 4);
  for (int i = 0; i < 4; ++i) {
    const double x3 = double{g[i]} * g[i] * g[i];
    const double want = 0.5 * g[i] * (1 + std::tanh(std::sqrt(2 / M_PI) * (g[i] + 0.044715 * x3))) * up[i];
    EXPECT_NEAR(out[i], want, 1e-6);
  }
}

}  // namespace
}  // namespace podserve::kernels
