// CPU entry points of model_ops.h. The model threads these per (token, head) or per block of queries, so they
// are single-threaded; RoPE uses the scalar form, GELU and attention the AVX2 kernels where they apply.
#include "kernels/model_ops.h"

#include "base/check.h"
#include "base/fp16.h"
#include "kernels/cpu/avx2_ops.h"

namespace podserve::kernels::cpu {
namespace {

template <typename Kv>
void attend_block(const AttentionBlock& b, const Kv& kv, int64_t head_dim, const AttentionOptions& o) {
  if (b.n_tokens <= 0 || b.n_heads <= 0) return;
  PODSERVE_CHECK(b.n_ctx0 >= 1) << "attention_block: a query must see at least its own position";
  if (has_avx2() && head_dim % 8 == 0) {
    avx2::attention_block(b, kv, head_dim, o);
  } else {
    ref::attention_block(b, kv, head_dim, o);
  }
}

}  // namespace

void rope_rotate_half(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      const float* inv_freq, float attn_factor) {
  ref::rope_rotate_half(x, n_heads, head_dim, rot_dim, pos, inv_freq, attn_factor);
}

void rope_interleaved_freqs(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                            const float* inv_freq) {
  ref::rope_interleaved_freqs(x, n_heads, head_dim, rot_dim, pos, inv_freq);
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (has_avx2()) return avx2::gelu_tanh_mul(gate, up, out, n);
  ref::gelu_tanh_mul(gate, up, out, n);
}

void store_fp16(const float* x, uint16_t* out, int64_t n) {
  if (has_avx2()) return avx2::store_fp16(x, out, n);  // has_avx2() includes F16C (ops_cpu.cpp)
  for (int64_t i = 0; i < n; ++i) out[i] = float_to_fp16(x[i]);
}

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o,
                    float* out) {
  attend_block(AttentionBlock{q, 0, out, 0, 1, 1, n_ctx}, kv, head_dim, o);
}

void attention_head(const float* q, const PagedKvF32& kv, int64_t n_ctx, int64_t head_dim,
                    const AttentionOptions& o, float* out) {
  attend_block(AttentionBlock{q, 0, out, 0, 1, 1, n_ctx}, kv, head_dim, o);
}

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_block(b, kv, head_dim, o);
}

void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_block(b, kv, head_dim, o);
}

}  // namespace podserve::kernels::cpu
