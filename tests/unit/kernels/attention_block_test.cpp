// cpu::attention_block (a GQA group's heads x several consecutive positions per pass over K/V) against
// ref::attention_block on odd shapes through a scrambled paged layout, on every instruction-set path: each
// query must get cpu::attention_head's exact bits (so a token's output does not depend on the block it is
// computed in) and stay within the fp16 rounding bound of ref:: (as ops_test's AttentionHead.CpuMatchesRef).
// The same for model_ops.h's options (soft-cap, sliding window, scale) over fp16 and float32 K/V; float32 K/V
// rounds nothing, so its bound is float accumulation only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/cpu/isa.h"
#include "kernels/model_ops.h"
#include "kernels/ops.h"
#include "every_isa.h"

namespace podserve::kernels {
namespace {

// A paged fp16 K/V history of n_ctx positions for `kv_heads` heads, laid out through a scrambled block table
// with spare NaN-filled blocks; everything outside the wanted head's slice is NaN too.
struct History {
  int64_t stride = 0, block_size = 16;
  std::vector<int32_t> table;
  std::vector<uint16_t> k, v;
  PagedKv head(int64_t h, int64_t head_dim) const {
    return PagedKv{k.data() + h * head_dim, v.data() + h * head_dim, stride, table.data(), block_size};
  }
};

History make_history(std::mt19937& gen, int64_t n_ctx, int64_t kv_heads, int64_t head_dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  History h;
  h.stride = kv_heads * head_dim + 8;
  const int64_t used = (n_ctx + h.block_size - 1) / h.block_size;
  h.table.resize(used);
  for (int64_t b = 0; b < used; ++b) h.table[b] = static_cast<int32_t>((b * 7 + 1) % (used + 2));
  h.k.assign((used + 2) * h.block_size * h.stride, 0x7e00);
  h.v.assign(h.k.size(), 0x7e00);
  for (int64_t p = 0; p < n_ctx; ++p) {
    const int64_t row = h.table[p / h.block_size] * h.block_size + p % h.block_size;
    for (int64_t d = 0; d < kv_heads * head_dim; ++d) {
      h.k[row * h.stride + d] = float_to_fp16(normal(gen));
      h.v[row * h.stride + d] = float_to_fp16(normal(gen));
    }
  }
  return h;
}

// ops_test's bound for one query, per output dim: q rounded to fp16 moves each score by <= ds; the weights are
// rounded to fp16.
std::vector<double> error_bounds(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale) {
  std::vector<double> w(n_ctx), bounds(head_dim, 0.0);
  double ds = 0.0, max_s = -INFINITY, total = 0.0;
  for (int64_t p = 0; p < n_ctx; ++p) {
    double s = 0.0, mag = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) {
      const double kd = fp16_to_float(kv.k[kv.row(p) * kv.stride + i]);
      s += q[i] * kd;
      mag += std::fabs(q[i] * kd);
    }
    ds = std::max(ds, scale * mag * 0x1.0p-11);
    w[p] = s * scale;
    max_s = std::max(max_s, w[p]);
  }
  for (auto& x : w) total += x = std::exp(x - max_s);
  for (int64_t p = 0; p < n_ctx; ++p) {
    for (int64_t d = 0; d < head_dim; ++d) bounds[d] += w[p] / total * std::fabs(fp16_to_float(kv.v[kv.row(p) * kv.stride + d]));
  }
  for (auto& b : bounds) b *= (2.0 * ds + 0x1.0p-11 + 1e-5) * 1.01;
  return bounds;
}

void check_block(std::mt19937& gen, int64_t head_dim, int64_t n_heads, int64_t n_tokens, int64_t n_ctx0,
                 float q_sigma, bool check_bound) {
  SCOPED_TRACE(::testing::Message() << "head_dim=" << head_dim << " heads=" << n_heads << " tokens=" << n_tokens
                                    << " n_ctx0=" << n_ctx0 << " q_sigma=" << q_sigma);
  const int64_t kv_heads = 2, n_ctx = n_ctx0 + n_tokens - 1;
  const History hist = make_history(gen, n_ctx, kv_heads, head_dim);
  const PagedKv kv = hist.head(1, head_dim);
  std::normal_distribution<float> normal(0.0f, q_sigma);
  // Strides wider than the group: other groups' queries and outputs sit in between (and must stay untouched).
  const int64_t stride = (n_heads + 1) * head_dim + 4;
  std::vector<float> q(n_tokens * stride);
  for (auto& x : q) x = normal(gen);
  std::vector<float> got(n_tokens * stride, -7.0f), want(got), head_bits(got);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  AttentionBlock b{q.data(), stride, got.data(), stride, n_tokens, n_heads, n_ctx0};
  cpu::attention_block(b, kv, head_dim, scale);
  b.out = want.data();
  ref::attention_block(b, kv, head_dim, scale);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t off = t * stride + h * head_dim;
      cpu::attention_head(q.data() + off, kv, n_ctx0 + t, head_dim, scale, head_bits.data() + off);
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::vector<std::vector<double>> bounds;
    for (int64_t h = 0; check_bound && h < n_heads; ++h) {
      bounds.push_back(error_bounds(q.data() + t * stride + h * head_dim, kv, n_ctx0 + t, head_dim, scale));
    }
    for (int64_t i = 0; i < stride; ++i) {
      const int64_t off = t * stride + i;
      if (i >= n_heads * head_dim) {
        ASSERT_EQ(got[off], -7.0f) << "wrote outside the block's outputs: token " << t << " index " << i;
        continue;
      }
      ASSERT_EQ(std::memcmp(&got[off], &head_bits[off], sizeof(float)), 0)
          << "token " << t << " head " << i / head_dim << " d " << i % head_dim << ": " << got[off]
          << " vs attention_head " << head_bits[off];
      if (check_bound) {
        const int64_t h = i / head_dim, d = i % head_dim;
        ASSERT_NEAR(got[off], want[off], bounds[h][d]) << "token " << t << " head " << h << " d " << d;
      }
    }
  }
}

TEST(AttentionBlock, SameBitsAsAttentionHeadAndNearRefOnOddShapes) {
  std::mt19937 gen(21);
  on_every_isa([&] {
    for (int64_t head_dim : {8, 12, 64, 72, 128, 136}) {  // 12: not a multiple of 8; 136: past 128 registers
      for (int64_t n_heads : {1, 3}) {
        for (int64_t n_tokens : {1, 7, 17}) {
          for (int64_t n_ctx0 : {1, 9, 40}) {
            for (float q_sigma : {1.0f, 4.0f}) check_block(gen, head_dim, n_heads, n_tokens, n_ctx0, q_sigma, true);
          }
        }
      }
    }
  });
}

// A block whose score matrix exceeds the kernel's scratch budget is split into sub-blocks of tokens; the bits
// must not change.
TEST(AttentionBlock, LongContextSplitsWithoutChangingBits) {
  std::mt19937 gen(22);
  on_every_isa([&] { check_block(gen, 64, 3, 40, 3000, 2.0f, false); });
}

TEST(AttentionBlock, EmptyBlockWritesNothing) {
  std::vector<float> q(64, 1.0f), out(64, -7.0f);
  const std::vector<int32_t> table = {0};
  const std::vector<uint16_t> kv_data(64, 0);
  const PagedKv kv{kv_data.data(), kv_data.data(), 64, table.data(), 16};
  cpu::attention_block(AttentionBlock{q.data(), 64, out.data(), 64, 0, 1, 1}, kv, 64, 0.125f);
  for (float x : out) EXPECT_EQ(x, -7.0f);
}

// --- model_ops.h options: soft-cap, window, scale; fp16 and float32 K/V ---

// The paged history of `make_history` in float32 (the same values), for the float32 kernel.
struct HistoryF32 {
  std::vector<float> k, v;
  PagedKvF32 head(const History& h, int64_t i, int64_t head_dim) const {
    return PagedKvF32{k.data() + i * head_dim, v.data() + i * head_dim, h.stride, h.table.data(), h.block_size};
  }
};

HistoryF32 to_f32(const History& h) {
  HistoryF32 f;
  for (uint16_t x : h.k) f.k.push_back(fp16_to_float(x));
  for (uint16_t x : h.v) f.v.push_back(fp16_to_float(x));
  return f;
}

// Poisons (NaN) K and V of positions [0, end) of every head: a windowed block must never read them.
void poison_before(History& h, int64_t end) {
  for (int64_t p = 0; p < end; ++p) {
    const int64_t row = h.table[p / h.block_size] * h.block_size + p % h.block_size;
    std::fill_n(h.k.begin() + row * h.stride, h.stride, uint16_t{0x7e00});
    std::fill_n(h.v.begin() + row * h.stride, h.stride, uint16_t{0x7e00});
  }
}

// Per output dim, for one query with options: a score error of ds (q rounded to fp16 for fp16 K/V, else float
// accumulation; the soft-cap's slope is <= 1, its vector tanh adds ~1e-6 * cap) moves each weight by <= 2 ds
// relatively; fp16 K/V also rounds the weights (2^-11).
inline double value_of(uint16_t half_bits) { return fp16_to_float(half_bits); }
inline double value_of(float x) { return x; }

template <typename Kv>
std::vector<double> option_bounds(const float* q, const Kv& kv, int64_t n_ctx, int64_t head_dim,
                                  const AttentionOptions& o, bool half) {
  const int64_t first = o.window > 0 ? std::max<int64_t>(0, n_ctx - o.window) : 0;
  std::vector<double> w(n_ctx - first), bounds(head_dim, 0.0);
  double ds = 0.0, max_s = -INFINITY, total = 0.0;
  for (int64_t p = first; p < n_ctx; ++p) {
    double s = 0.0, mag = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) {
      const double kd = value_of(kv.k[kv.row(p) * kv.stride + i]);
      s += q[i] * kd;
      mag += std::fabs(q[i] * kd);
    }
    s *= o.scale;
    if (o.softcap > 0) s = std::tanh(s / o.softcap) * o.softcap;
    ds = std::max(ds, o.scale * mag * (half ? 0x1.0p-11 : 0x1.0p-20) + o.softcap * 1e-6);
    w[p - first] = s;
    max_s = std::max(max_s, s);
  }
  for (auto& x : w) total += x = std::exp(x - max_s);
  for (int64_t p = first; p < n_ctx; ++p) {
    for (int64_t d = 0; d < head_dim; ++d) bounds[d] += w[p - first] / total * std::fabs(value_of(kv.v[kv.row(p) * kv.stride + d]));
  }
  for (auto& b : bounds) b *= (2.0 * ds + (half ? 0x1.0p-11 : 0.0) + 1e-5) * 1.01;
  return bounds;
}

template <typename Kv>
void check_options_on(const Kv& kv, const std::vector<float>& q, int64_t stride, int64_t head_dim, int64_t n_heads,
                      int64_t n_tokens, int64_t n_ctx0, const AttentionOptions& o, bool half) {
  std::vector<float> got(n_tokens * stride, -7.0f), want(got), head_bits(got);
  AttentionBlock b{q.data(), stride, got.data(), stride, n_tokens, n_heads, n_ctx0};
  cpu::attention_block(b, kv, head_dim, o);
  b.out = want.data();
  ref::attention_block(b, kv, head_dim, o);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t off = t * stride + h * head_dim;
      cpu::attention_head(q.data() + off, kv, n_ctx0 + t, head_dim, o, head_bits.data() + off);
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::vector<std::vector<double>> bounds;
    for (int64_t h = 0; h < n_heads; ++h) {
      bounds.push_back(option_bounds(q.data() + t * stride + h * head_dim, kv, n_ctx0 + t, head_dim, o, half));
    }
    for (int64_t i = 0; i < stride; ++i) {
      const int64_t off = t * stride + i;
      if (i >= n_heads * head_dim) {
        ASSERT_EQ(got[off], -7.0f) << "wrote outside the block's outputs: token " << t << " index " << i;
        continue;
      }
      const int64_t h = i / head_dim, d = i % head_dim;
      ASSERT_EQ(std::memcmp(&got[off], &head_bits[off], sizeof(float)), 0)
          << "token " << t << " head " << h << " d " << d << ": " << got[off] << " vs attention_head " << head_bits[off];
      ASSERT_NEAR(got[off], want[off], bounds[h][d]) << "token " << t << " head " << h << " d " << d;
    }
  }
}

void check_options(std::mt19937& gen, int64_t head_dim, int64_t n_heads, int64_t n_tokens, int64_t n_ctx0,
                   const AttentionOptions& o) {
  SCOPED_TRACE(::testing::Message() << "head_dim=" << head_dim << " heads=" << n_heads << " tokens=" << n_tokens
                                    << " n_ctx0=" << n_ctx0 << " scale=" << o.scale << " softcap=" << o.softcap
                                    << " window=" << o.window);
  const int64_t kv_heads = 2, n_ctx = n_ctx0 + n_tokens - 1;
  History hist = make_history(gen, n_ctx, kv_heads, head_dim);
  if (o.window > 0) poison_before(hist, std::max<int64_t>(0, n_ctx0 - o.window));
  const HistoryF32 hist32 = to_f32(hist);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t stride = (n_heads + 1) * head_dim + 4;
  std::vector<float> q(n_tokens * stride);
  for (auto& x : q) x = normal(gen);
  {
    SCOPED_TRACE("fp16 K/V");
    check_options_on(hist.head(1, head_dim), q, stride, head_dim, n_heads, n_tokens, n_ctx0, o, true);
  }
  {
    SCOPED_TRACE("float32 K/V");
    check_options_on(hist32.head(hist, 1, head_dim), q, stride, head_dim, n_heads, n_tokens, n_ctx0, o, false);
  }
}

TEST(AttentionBlock, OptionsSameBitsAsAttentionHeadAndNearRef) {
  std::mt19937 gen(23);
  const AttentionOptions options[] = {
      {0.3f, 0.0f, 0},    // custom scale only (query_pre_attn_scalar)
      {0.3f, 2.0f, 0},    // soft-cap that bites (Gemma 2)
      {0.3f, 0.0f, 5},    // window shorter than a K tile
      {0.3f, 1.5f, 12},   // both, window across tiles
      {0.3f, 0.0f, 100},  // window past the context: no effect
  };
  on_every_isa([&] {
    for (int64_t head_dim : {8, 12, 64, 136}) {
      for (int64_t n_heads : {1, 3}) {
        for (int64_t n_tokens : {1, 7, 17}) {
          for (int64_t n_ctx0 : {1, 9, 40}) {
            for (const AttentionOptions& o : options) check_options(gen, head_dim, n_heads, n_tokens, n_ctx0, o);
          }
        }
      }
    }
  });
}

// Without options the fp16 kernel keeps ops.h's bits (existing callers), and a window past the context changes
// nothing.
TEST(AttentionBlock, NoOptionsKeepOpsBits) {
  std::mt19937 gen(24);
  on_every_isa([&] {
    for (int64_t head_dim : {12, 64, 136}) {
      const int64_t n_tokens = 17, n_ctx0 = 40, n_heads = 3, stride = n_heads * head_dim;
      const History hist = make_history(gen, n_ctx0 + n_tokens - 1, 2, head_dim);
      const PagedKv kv = hist.head(0, head_dim);
      std::normal_distribution<float> normal(0.0f, 2.0f);
      std::vector<float> q(n_tokens * stride);
      for (auto& x : q) x = normal(gen);
      std::vector<float> plain(q.size()), opts(q.size()), wide(q.size());
      const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      cpu::attention_block(AttentionBlock{q.data(), stride, plain.data(), stride, n_tokens, n_heads, n_ctx0}, kv, head_dim, scale);
      cpu::attention_block(AttentionBlock{q.data(), stride, opts.data(), stride, n_tokens, n_heads, n_ctx0}, kv, head_dim,
                           AttentionOptions{scale, 0.0f, 0});
      cpu::attention_block(AttentionBlock{q.data(), stride, wide.data(), stride, n_tokens, n_heads, n_ctx0}, kv, head_dim,
                           AttentionOptions{scale, 0.0f, n_ctx0 + n_tokens});
      EXPECT_EQ(std::memcmp(plain.data(), opts.data(), plain.size() * sizeof(float)), 0) << "head_dim " << head_dim;
      EXPECT_EQ(std::memcmp(plain.data(), wide.data(), plain.size() * sizeof(float)), 0) << "head_dim " << head_dim;
    }
  });
}

// A long windowed context splits into sub-blocks; the bits per query still match attention_head.
TEST(AttentionBlock, LongWindowedContextSplitsWithoutChangingBits) {
  std::mt19937 gen(25);
  on_every_isa([&] { check_options(gen, 64, 3, 40, 3000, AttentionOptions{0.125f, 30.0f, 512}); });
}

}  // namespace
}  // namespace podserve::kernels
