// cpu::attention_head against ref::attention_head, and the ref:: float ops against double-precision values
// computed here straight from their math definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/ops.h"

namespace podserve::kernels {
namespace {

std::vector<float> random_floats(std::mt19937& gen, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

TEST(AttentionHead, CpuMatchesRef) {
  ASSERT_TRUE(cpu::has_avx2()) << "this machine is expected to have AVX2/FMA/F16C";
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t head_dim : {64, 128}) {
    for (int64_t n_ctx : {1, 5, 130}) {
      for (float q_sigma : {1.0f, 4.0f}) {  // 4: peaky attention, where score errors matter most
        SCOPED_TRACE(::testing::Message() << "head_dim=" << head_dim << " n_ctx=" << n_ctx << " q_sigma=" << q_sigma);
        const int64_t stride = head_dim * 3 + 8;  // other heads' slices in between
        // Everything outside this head's slice is NaN: reading it would poison the output.
        std::vector<uint16_t> k(n_ctx * stride, 0x7e00), v(n_ctx * stride, 0x7e00);
        for (int64_t p = 0; p < n_ctx; ++p) {
          for (int64_t d = 0; d < head_dim; ++d) {
            k[p * stride + d] = float_to_fp16(normal(gen));
            v[p * stride + d] = float_to_fp16(normal(gen));
          }
        }
        std::vector<float> q(head_dim);
        for (auto& x : q) x = q_sigma * normal(gen);
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        std::vector<float> want(head_dim), got(head_dim);
        // Lay the history out in a paged pool through a scrambled block table (blocks of 16, two spare
        // NaN-filled blocks), as the engine's KV cache does.
        const int64_t block_size = 16, used_blocks = (n_ctx + block_size - 1) / block_size;
        std::vector<int32_t> table(used_blocks);
        for (int64_t b = 0; b < used_blocks; ++b) table[b] = static_cast<int32_t>((b * 7 + 1) % (used_blocks + 2));
        std::vector<uint16_t> k_pool((used_blocks + 2) * block_size * stride, 0x7e00), v_pool(k_pool.size(), 0x7e00);
        PagedKv kv{k_pool.data(), v_pool.data(), stride, table.data(), block_size};
        for (int64_t p = 0; p < n_ctx; ++p) {
          std::copy_n(k.begin() + p * stride, stride, k_pool.begin() + kv.row(p) * stride);
          std::copy_n(v.begin() + p * stride, stride, v_pool.begin() + kv.row(p) * stride);
        }
        ref::attention_head(q.data(), kv, n_ctx, head_dim, scale, want.data());
        cpu::attention_head(q.data(), kv, n_ctx, head_dim, scale, got.data());

        // The cpu path rounds q to fp16 (each q_d off by <= 2^-11 |q_d|), which moves every score by at most
        // ds = scale * max_p sum_d 2^-11 |q_d k_pd|; softmax turns that into a relative weight error <= 2 ds
        // (e^{2ds} - 1 ~ 2ds), and it rounds each weight to fp16 (another 2^-11). So out_d is off by at most
        // (2 ds + 2^-11 + float slack 1e-5) * sum_p w_p |v_pd|.
        double ds = 0.0;
        std::vector<double> w(n_ctx);
        double max_s = -INFINITY, total = 0.0;
        for (int64_t p = 0; p < n_ctx; ++p) {
          double s = 0.0, mag = 0.0;
          for (int64_t d = 0; d < head_dim; ++d) {
            const double kd = fp16_to_float(k[p * stride + d]);
            s += q[d] * kd;
            mag += std::fabs(q[d] * kd);
          }
          ds = std::max(ds, scale * mag * 0x1.0p-11);
          w[p] = s * scale;
          max_s = std::max(max_s, w[p]);
        }
        for (auto& x : w) total += x = std::exp(x - max_s);
        for (int64_t d = 0; d < head_dim; ++d) {
          double wv = 0.0;
          for (int64_t p = 0; p < n_ctx; ++p) wv += w[p] / total * std::fabs(fp16_to_float(v[p * stride + d]));
          const double tol = (2.0 * ds + 0x1.0p-11 + 1e-5) * wv * 1.01;
          EXPECT_NEAR(got[d], want[d], tol) << "d=" << d;
        }
      }
    }
  }
}

TEST(RefOps, RmsNormMatchesDouble) {
  std::mt19937 gen(11);
  for (int64_t dim : {1, 7, 64, 576, 2048}) {
    const std::vector<float> x = random_floats(gen, dim, -3.0f, 3.0f), weight = random_floats(gen, dim, -2.0f, 2.0f);
    const float eps = 1e-5f;
    double mean_sq = 0.0;
    for (float v : x) mean_sq += static_cast<double>(v) * v;
    mean_sq /= static_cast<double>(dim);
    const double inv = 1.0 / std::sqrt(mean_sq + eps);
    std::vector<float> y(dim), in_place = x;
    ref::rms_norm(x.data(), weight.data(), y.data(), dim, eps);
    ref::rms_norm(in_place.data(), weight.data(), in_place.data(), dim, eps);  // y may alias x
    for (int64_t i = 0; i < dim; ++i) {
      const double want = x[i] * inv * weight[i];
      EXPECT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-30) << "dim=" << dim << " i=" << i;  // ~3 roundings
      EXPECT_EQ(in_place[i], y[i]);
    }
  }
  // eps dominates an all-zero input: the output is 0, not NaN.
  const std::vector<float> zeros(8, 0.0f), ones(8, 1.0f);
  std::vector<float> y(8, NAN);
  ref::rms_norm(zeros.data(), ones.data(), y.data(), 8, 1e-6f);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(RefOps, SiluMulMatchesDouble) {
  std::mt19937 gen(12);
  std::vector<float> gate = random_floats(gen, 1000, -20.0f, 20.0f), up = random_floats(gen, 1000, -3.0f, 3.0f);
  gate.insert(gate.end(), {0.0f, -100.0f, 100.0f, -1e-20f, 88.0f, -88.0f});
  up.insert(up.end(), {1.0f, 1.0f, 1.0f, 1.0f, 0.5f, 0.5f});
  const int64_t n = static_cast<int64_t>(gate.size());
  std::vector<float> out(n), aliased = gate;
  ref::silu_mul(gate.data(), up.data(), out.data(), n);
  ref::silu_mul(aliased.data(), up.data(), aliased.data(), n);  // out may alias gate
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i], want = g / (1.0 + std::exp(-g)) * up[i];
    // float exp is within a few ulp; the divide and multiply add two roundings.
    EXPECT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-37) << "gate " << g;
    EXPECT_TRUE(std::isfinite(out[i])) << "gate " << g;
    EXPECT_EQ(aliased[i], out[i]);
  }
}

TEST(RefOps, SoftmaxMatchesDouble) {
  std::mt19937 gen(13);
  for (int64_t n : {1, 2, 17, 1000}) {
    for (float offset : {0.0f, 1000.0f, -1000.0f}) {  // large offsets: must subtract the max first
      std::vector<float> x = random_floats(gen, n, -10.0f, 10.0f);
      for (auto& v : x) v += offset;
      std::vector<float> y = x;
      ref::softmax(y.data(), n);
      double max = -INFINITY, total = 0.0;
      for (float v : x) max = std::max(max, static_cast<double>(v));
      for (float v : x) total += std::exp(v - max);
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double want = std::exp(x[i] - max) / total;
        // The float subtraction x - max is off by up to |x - max| * 2^-24 in the exponent (exact with the
        // +-1000 offsets, by Sterbenz), plus a few roundings of exp and the final scale.
        const double arg_err = std::fabs(x[i] - max) * 0x1.0p-24;
        EXPECT_NEAR(y[i], want, want * (2e-6 + 2 * arg_err) + 1e-37) << "n=" << n << " i=" << i;
        sum += y[i];
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
}

TEST(RefOps, RopeInterleavedMatchesDouble) {
  std::mt19937 gen(14);
  struct Shape {
    int64_t n_heads, head_dim, rot_dim;
  };
  for (const Shape s : {Shape{1, 64, 64}, Shape{3, 64, 32}, Shape{2, 128, 128}, Shape{4, 128, 96}}) {
    for (int64_t pos : {0, 1, 17, 4095}) {
      for (float theta : {10000.0f, 500000.0f}) {
        const std::vector<float> x = random_floats(gen, s.n_heads * s.head_dim, -2.0f, 2.0f);
        std::vector<float> y = x;
        ref::rope_interleaved(y.data(), s.n_heads, s.head_dim, s.rot_dim, pos, theta);
        for (int64_t h = 0; h < s.n_heads; ++h) {
          const float* xh = x.data() + h * s.head_dim;
          const float* yh = y.data() + h * s.head_dim;
          for (int64_t i = 0; i < s.rot_dim / 2; ++i) {  // pair (2i, 2i+1) turns by pos * theta^(-2i/rot_dim)
            const double angle = static_cast<double>(pos) * std::pow(static_cast<double>(theta), -2.0 * i / s.rot_dim);
            const double a = xh[2 * i], b = xh[2 * i + 1];
            const double want0 = a * std::cos(angle) - b * std::sin(angle);
            const double want1 = a * std::sin(angle) + b * std::cos(angle);
            // cos/sin rounded to float, then two products and a sum in float: a few ulp of |a| + |b|.
            const double tol = 4e-7 * (std::fabs(a) + std::fabs(b));
            EXPECT_NEAR(yh[2 * i], want0, tol) << "head " << h << " pair " << i << " pos " << pos;
            EXPECT_NEAR(yh[2 * i + 1], want1, tol) << "head " << h << " pair " << i << " pos " << pos;
          }
          for (int64_t d = s.rot_dim; d < s.head_dim; ++d) EXPECT_EQ(yh[d], xh[d]) << "tail untouched";
          if (pos == 0) {
            for (int64_t d = 0; d < s.head_dim; ++d) EXPECT_EQ(yh[d], xh[d]) << "pos 0 is the identity";
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace podserve::kernels
