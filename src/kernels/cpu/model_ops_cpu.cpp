// CPU entry points of model_ops.h. The model threads these per (token, head), so they are single-threaded; the
// scalar forms are the ones used today except for plain fp16 attention, which takes the AVX2 kernel.
#include "kernels/model_ops.h"

namespace podserve::kernels::cpu {

void rope_rotate_half(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      const float* inv_freq, float attn_factor) {
  ref::rope_rotate_half(x, n_heads, head_dim, rot_dim, pos, inv_freq, attn_factor);
}

void rope_interleaved_freqs(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                            const float* inv_freq) {
  ref::rope_interleaved_freqs(x, n_heads, head_dim, rot_dim, pos, inv_freq);
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) { ref::gelu_tanh_mul(gate, up, out, n); }

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o,
                    float* out) {
  if (o.softcap <= 0.0f && (o.window <= 0 || o.window >= n_ctx)) {
    attention_head(q, kv, n_ctx, head_dim, o.scale, out);
  } else {
    ref::attention_head(q, kv, n_ctx, head_dim, o, out);
  }
}

void attention_head(const float* q, const PagedKvF32& kv, int64_t n_ctx, int64_t head_dim,
                    const AttentionOptions& o, float* out) {
  ref::attention_head(q, kv, n_ctx, head_dim, o, out);
}

}  // namespace podserve::kernels::cpu
