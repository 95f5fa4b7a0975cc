// Pieces the decode and prefill attention kernels share: the paged K/V tile loader, the score of a row against a
// key in shared memory, and the online-softmax step of one row over a tile.
#pragma once

#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {

/// The shape checks both attention entry points make (attention_decode.cu).
Status check_attention_shape(const AttentionShape& s, const PagedKvCache& cache);

/// The tensor-core prefill kernel (attention_prefill_mma.cu): the shapes it takes, and the launch.
bool attention_prefill_mma_supports(const AttentionShape& shape);
Status attention_prefill_mma(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                             const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                             int64_t max_q_len, float* out, int64_t out_stride, Stream stream);

/// A K or V tile in shared memory: `keys` rows of head_dim 16-bit values, rows head_dim + 8 apart (16-byte aligned,
/// and 16-byte reads of 8 consecutive rows fall in distinct banks).
SIMT_HOST_DEVICE int tile_row_stride(int head_dim) { return head_dim + 8; }

/// The query rows of one prefill CTA (blockIdx = (token block, K/V head, sequence)): up to rows_per_cta / group
/// consecutive tokens of the sequence, each with the group's query heads; rows == 0 past its last token.
struct PrefillRows {
  int group, kv_head, h0, rows;
  int64_t seq, kv_len, n_tok;
  int64_t first_q;  // the first token's row in q and out
  int64_t pos0;     // its position (bottom-right aligned: the chunk ends at kv_len)
};
SIMT_DEVICE PrefillRows prefill_rows(const AttentionShape& shape, const int32_t* cu_q, const int32_t* seq_lens,
                                     int rows_per_cta) {
  PrefillRows r;
  r.group = shape.n_heads / shape.n_kv_heads;
  const int tokens_per_cta = rows_per_cta / r.group;
  r.kv_head = static_cast<int>(blockIdx.y);
  r.h0 = r.kv_head * r.group;
  r.seq = blockIdx.z;
  const int64_t q_begin = cu_q[r.seq], q_len = cu_q[r.seq + 1] - q_begin;
  r.kv_len = seq_lens[r.seq];
  const int64_t tok0 = static_cast<int64_t>(blockIdx.x) * tokens_per_cta;
  r.n_tok = tok0 >= q_len ? 0 : q_len - tok0 < tokens_per_cta ? q_len - tok0 : tokens_per_cta;
  r.rows = static_cast<int>(r.n_tok) * r.group;
  r.first_q = q_begin + tok0;
  r.pos0 = r.kv_len - q_len + tok0;
  return r;
}

/// Loads keys [first, first + count) of one K/V head through the block table into `k_tile` and `v_tile`
/// (tile_keys rows each; rows >= count are zero, so a masked key's V contributes exactly 0). All threads take part.
SIMT_DEVICE void load_kv_tile(const PagedKvCache& cache, const int32_t* table, int kv_head, int head_dim,
                              int64_t first, int count, int tile_keys, uint16_t* k_tile, uint16_t* v_tile) {
  const int chunks_per_row = head_dim / 8;
  const int total = tile_keys * chunks_per_row;
  const int stride = tile_row_stride(head_dim);
  constexpr int kBatch = 4;  // loads in flight per thread before their stores
  for (int base = static_cast<int>(threadIdx.x); base < total; base += kBatch * static_cast<int>(blockDim.x)) {
    simt::U32x4 kv[kBatch][2];
    SIMT_UNROLL
    for (int b = 0; b < kBatch; ++b) {
      const int c = base + b * static_cast<int>(blockDim.x);
      const int row = c / chunks_per_row, part = c % chunks_per_row;
      if (c < total && row < count) {
        const int64_t pos = first + row;
        const int64_t slot = static_cast<int64_t>(table[pos / cache.block_size]) * cache.block_size + pos % cache.block_size;
        const int64_t off = slot * cache.slot_stride + static_cast<int64_t>(kv_head) * head_dim + part * 8;
        kv[b][0] = simt::load16(static_cast<const uint16_t*>(cache.k) + off);
        kv[b][1] = simt::load16(static_cast<const uint16_t*>(cache.v) + off);
      } else {
        kv[b][0] = simt::U32x4{0, 0, 0, 0};
        kv[b][1] = simt::U32x4{0, 0, 0, 0};
      }
    }
    SIMT_UNROLL
    for (int b = 0; b < kBatch; ++b) {
      const int c = base + b * static_cast<int>(blockDim.x);
      if (c >= total) break;
      const int row = c / chunks_per_row, part = c % chunks_per_row;
      simt::store16(k_tile + row * stride + part * 8, kv[b][0]);
      simt::store16(v_tile + row * stride + part * 8, kv[b][1]);
    }
  }
}

/// 8 consecutive 16-bit K/V values (one 16-byte word) as floats.
SIMT_DEVICE void unpack8(const simt::U32x4& w, KvType type, float out[8]) {
  const uint32_t words[4] = {w.x, w.y, w.z, w.w};
  SIMT_UNROLL
  for (int i = 0; i < 4; ++i) {
    if (type == KvType::kBF16) {
      out[2 * i] = simt::bf16_to_f32(simt::lo16(words[i]));
      out[2 * i + 1] = simt::bf16_to_f32(simt::hi16(words[i]));
    } else {
      out[2 * i] = simt::f16_to_f32(simt::lo16(words[i]));
      out[2 * i + 1] = simt::f16_to_f32(simt::hi16(words[i]));
    }
  }
}

/// The two 16-bit values of a 32-bit word as floats.
SIMT_DEVICE void kv_unpack2(uint32_t w, KvType type, float out[2]) {
  if (type == KvType::kBF16) {
    out[0] = simt::bf16_to_f32(simt::lo16(w));
    out[1] = simt::bf16_to_f32(simt::hi16(w));
  } else {
    out[0] = simt::f16_to_f32(simt::lo16(w));
    out[1] = simt::f16_to_f32(simt::hi16(w));
  }
}

SIMT_DEVICE float kv_value(const uint16_t* p, KvType type) {
  return type == KvType::kBF16 ? simt::bf16_to_f32(*p) : simt::f16_to_f32(*p);
}

/// The score transform after q.k: times scale, then the soft-cap.
SIMT_DEVICE float finish_score(float dot, float scale, float softcap) {
  const float s = dot * scale;
  return softcap > 0.0f ? softcap * tanhf(s / softcap) : s;
}

/// The online-softmax step of one row over a tile, by one warp: scores s[0..tile_keys) (-inf where masked) become
/// p = exp(s - m_new) in place; m and l (the row's running max and sum) are updated and the factor the row's
/// output must be scaled by is returned. Every lane returns the same values. The tile's max and sum are warp
/// butterflies over (s[lane], s[lane + 32]), so the bits depend on the tile only.
SIMT_DEVICE float softmax_tile_row(float* s, int tile_keys, float& m, float& l) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const float s0 = lane < tile_keys ? s[lane] : -INFINITY;
  const float s1 = lane + 32 < tile_keys ? s[lane + 32] : -INFINITY;
  const float m_new = fmaxf(m, simt::warp_max(fmaxf(s0, s1)));
  if (m_new == -INFINITY) {  // nothing visible yet: the row stays empty
    if (lane < tile_keys) s[lane] = 0.0f;
    if (lane + 32 < tile_keys) s[lane + 32] = 0.0f;
    return 1.0f;
  }
  const float p0 = expf(s0 - m_new), p1 = expf(s1 - m_new);
  if (lane < tile_keys) s[lane] = p0;
  if (lane + 32 < tile_keys) s[lane + 32] = p1;
  const float alpha = expf(m - m_new);  // 0 when m was -inf
  l = l * alpha + simt::warp_sum(p0 + p1);
  m = m_new;
  return alpha;
}

}  // namespace podserve::kernels::cuda
