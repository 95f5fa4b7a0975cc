// Float kernels compiled with AVX2/FMA/F16C (cpu/avx2_ops.cpp). Call only when cpu::has_avx2().
#pragma once

#include <cstdint>

#include "kernels/model_ops.h"
#include "kernels/ops.h"

namespace podserve::kernels::avx2 {
// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]; out may alias gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// out[i] = gate[i] / (1 + exp(-2u)) * up[i], u = sqrt(2/pi) (g + 0.044715 g^3): GELU-tanh, since
// 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)). The tail goes through the same vector steps, so an element's bits do not
// depend on n or its position (a caller may split rows over threads). out may alias gate or up.
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);
// out[i] = float_to_fp16(x[i]) with F16C (vectors holding a NaN take the scalar path: F16C keeps NaN payloads).
void store_fp16(const float* x, uint16_t* out, int64_t n);
// Contract of ref::attention_head; head_dim % 8 == 0.
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out);
// Contract of ref::attention_block with attention_head's bits per query (attention_block.cpp); head_dim % 8 == 0.
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale);
// With model_ops.h's options (no options: the same bits as above); float32 K/V rounds neither q nor weights.
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o);
void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o);
}  // namespace podserve::kernels::avx2
