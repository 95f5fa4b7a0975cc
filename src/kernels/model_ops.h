// Ops the Hugging Face architectures add to the contract in ops.h: rotate_half RoPE with precomputed (scaled)
// frequencies, attention with soft-capping and a sliding window over fp16 or float32 K/V, and tanh-GELU.
// Same split as ops.h: `ref::` is the scalar oracle, `cpu::` the entry point the model calls.
#pragma once

#include <cstdint>

#include "kernels/ops.h"

namespace podserve::kernels {

struct AttentionOptions {
  float scale = 1.0f;    // multiplies q.k
  float softcap = 0.0f;  // > 0: score = softcap * tanh(score / softcap), before the mask (Gemma 2)
  int64_t window = 0;    // > 0: the query at position i sees positions (i - window, i] only (sliding window)
};

namespace ref {
// In place on x: [n_heads, head_dim]. HF's rotate_half convention: pairs (i, i + rot_dim/2) of the first rot_dim
// dims turn by angle pos * inv_freq[i] (float32, as transformers), cos and sin scaled by attn_factor.
void rope_rotate_half(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      const float* inv_freq, float attn_factor);
// In place on x: [n_heads, head_dim]. The interleaved form (GGUF llama-arch): pairs (2i, 2i+1) turn by
// pos * inv_freq[i] (llama.cpp's rope_freqs / linear scaling folded into inv_freq).
void rope_interleaved_freqs(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                            const float* inv_freq);
// out[i] = gelu_tanh(gate[i]) * up[i] (the tanh approximation: gelu_pytorch_tanh).  out may alias gate or up.
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);
// One query head against positions [0, n_ctx) of a paged history (the last position is the query's own).
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o,
                    float* out);
void attention_head(const float* q, const PagedKvF32& kv, int64_t n_ctx, int64_t head_dim,
                    const AttentionOptions& o, float* out);
// Every query of the block (ops.h) through attention_head with these options (n_ctx = b.n_ctx0 + token index).
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o);
void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o);
}  // namespace ref

namespace cpu {
// Same contracts as the ref:: ops above. Attention runs the block kernel (cpu/attention_block.cpp) when AVX2 is
// there and head_dim % 8 == 0: attention_head is a block of one, so each query gets the same bits whatever block
// it is in. fp16 K/V rounds q and the softmax weights to fp16 as ggml does (without options: the bits of
// ops.h's cpu::attention_block); float32 K/V rounds nothing. Single-threaded: the model splits blocks over its
// pool, one per (sequence, K/V head, run of up to ~16 consecutive tokens).
void rope_rotate_half(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      const float* inv_freq, float attn_factor);
void rope_interleaved_freqs(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                            const float* inv_freq);
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, const AttentionOptions& o,
                    float* out);
void attention_head(const float* q, const PagedKvF32& kv, int64_t n_ctx, int64_t head_dim,
                    const AttentionOptions& o, float* out);
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o);
void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o);
// out[i] = float_to_fp16(x[i]) (base/fp16.h's bits, NaN payloads included): the K/V cache store, F16C when there.
void store_fp16(const float* x, uint16_t* out, int64_t n);
}  // namespace cpu

}  // namespace podserve::kernels
