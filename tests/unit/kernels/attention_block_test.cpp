// cpu::attention_block (a GQA group's heads x several consecutive positions per pass over K/V) against
// ref::attention_block on odd shapes through a scrambled paged layout, on every instruction-set path: each
// query must get cpu::attention_head's exact bits (so a token's output does not depend on the block it is
// computed in) and stay within the fp16 rounding bound of ref:: (as ops_test's AttentionHead.CpuMatchesRef).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/cpu/isa.h"
#include "kernels/ops.h"

namespace podserve::kernels {
namespace {

template <typename Fn>
void on_every_isa(Fn fn) {
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvxVnni, cpu::Isa::kAvx512, cpu::Isa::kAmx}) {
    if (isa > cpu::detected_isa()) continue;
    SCOPED_TRACE(cpu::isa_name(isa));
    const cpu::Isa previous = cpu::set_isa_cap(isa);
    fn();
    cpu::set_isa_cap(previous);
  }
}

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

}  // namespace
}  // namespace podserve::kernels
