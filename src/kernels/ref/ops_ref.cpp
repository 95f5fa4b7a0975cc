#include <cmath>
#include <vector>

#include "base/check.h"
#include "base/fp16.h"
#include "kernels/ops.h"
#include "kernels/ref/dequant.h"

namespace podserve::kernels::ref {

void matmul(const MatrixView& w, const float* x, float* y, int64_t n) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row_ref(w.type, w.row(r), row.data(), w.cols);
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x + t * w.cols;
      double sum = 0.0;
      for (int64_t c = 0; c < w.cols; ++c) sum += static_cast<double>(row[c]) * xt[c];
      y[t * w.rows + r] = static_cast<float>(sum);
    }
  }
}

void rms_norm(const float* x, const float* weight, float* y, int64_t dim, float eps) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps));
  for (int64_t i = 0; i < dim; ++i) y[i] = x[i] * scale * weight[i];
}

void rope_interleaved(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos, float theta) {
  for (int64_t i = 0; i < rot_dim; i += 2) {
    const double freq = std::pow(static_cast<double>(theta), -static_cast<double>(i) / static_cast<double>(rot_dim));
    const double angle = static_cast<double>(pos) * freq;
    const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* p = x + h * head_dim + i;
      const float a = p[0], b = p[1];
      p[0] = a * c - b * s;
      p[1] = a * s + b * c;
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out) {
  std::vector<float> scores(static_cast<size_t>(n_ctx));
  for (int64_t p = 0; p < n_ctx; ++p) {
    double dot = 0.0;
    for (int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(q[d]) * fp16_to_float(kv.k[kv.row(p) * kv.stride + d]);
    scores[p] = static_cast<float>(dot) * scale;
  }
  softmax(scores.data(), n_ctx);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t p = 0; p < n_ctx; ++p) {
    for (int64_t d = 0; d < head_dim; ++d) out[d] += scores[p] * fp16_to_float(kv.v[kv.row(p) * kv.stride + d]);
  }
}

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale) {
  for (int64_t t = 0; t < b.n_tokens; ++t) {
    for (int64_t h = 0; h < b.n_heads; ++h) {
      attention_head(b.q + t * b.q_stride + h * head_dim, kv, b.n_ctx0 + t, head_dim, scale,
                     b.out + t * b.out_stride + h * head_dim);
    }
  }
}

}  // namespace podserve::kernels::ref
