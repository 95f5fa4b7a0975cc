#include <algorithm>
#include <cmath>
#include <vector>

#include "base/fp16.h"
#include "kernels/model_ops.h"

namespace podserve::kernels::ref {
namespace {

// Scores (capped, windowed) -> softmax -> weighted sum of V; `load` reads element d of row r of K or V.
template <typename Kv, typename Load>
void attend(const float* q, const Kv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o, float* out,
            Load load) {
  const int64_t first = o.window > 0 ? std::max<int64_t>(0, n_ctx - o.window) : 0;
  std::vector<float> scores(static_cast<size_t>(n_ctx - first));
  for (int64_t p = first; p < n_ctx; ++p) {
    double dot = 0.0;
    for (int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(q[d]) * load(kv.k, kv.row(p) * kv.stride + d);
    float s = static_cast<float>(dot) * o.scale;
    if (o.softcap > 0.0f) s = std::tanh(s / o.softcap) * o.softcap;
    scores[p - first] = s;
  }
  softmax(scores.data(), n_ctx - first);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t p = first; p < n_ctx; ++p) {
    const float w = scores[p - first];
    for (int64_t d = 0; d < head_dim; ++d) out[d] += w * load(kv.v, kv.row(p) * kv.stride + d);
  }
}

}  // namespace

void rope_rotate_half(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      const float* inv_freq, float attn_factor) {
  const int64_t half = rot_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = std::cos(angle) * attn_factor, s = std::sin(angle) * attn_factor;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* p = x + h * head_dim;
      const float a = p[i], b = p[i + half];
      p[i] = a * c - b * s;
      p[i + half] = b * c + a * s;
    }
  }
}

void rope_interleaved_freqs(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                            const float* inv_freq) {
  for (int64_t i = 0; i < rot_dim / 2; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = std::cos(angle), s = std::sin(angle);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* p = x + h * head_dim + 2 * i;
      const float a = p[0], b = p[1];
      p[0] = a * c - b * s;
      p[1] = a * s + b * c;
    }
  }
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
  }
}

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o,
                    float* out) {
  attend(q, kv, n_ctx, head_dim, o, out, [](const uint16_t* base, int64_t i) { return fp16_to_float(base[i]); });
}

void attention_head(const float* q, const PagedKvF32& kv, int64_t n_ctx, int64_t head_dim,
                    const AttentionOptions& o, float* out) {
  attend(q, kv, n_ctx, head_dim, o, out, [](const float* base, int64_t i) { return base[i]; });
}

template <typename Kv>
void attend_each(const AttentionBlock& b, const Kv& kv, int64_t head_dim, const AttentionOptions& o) {
  for (int64_t t = 0; t < b.n_tokens; ++t) {
    for (int64_t h = 0; h < b.n_heads; ++h) {
      attention_head(b.q + t * b.q_stride + h * head_dim, kv, b.n_ctx0 + t, head_dim, o,
                     b.out + t * b.out_stride + h * head_dim);
    }
  }
}

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_each(b, kv, head_dim, o);
}

void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_each(b, kv, head_dim, o);
}

}  // namespace podserve::kernels::ref
