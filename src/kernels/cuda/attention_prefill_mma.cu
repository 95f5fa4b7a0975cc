// Prefill attention on tensor cores (mma.sync m16n8k16, sm_80+), flash-attention-2 style, for head_dim 64..128
// (multiples of 16): a CTA of 4 warps owns 64 query rows (tokens x the GQA group's heads, 16 per warp), Q is
// scaled and rounded to the cache's 16-bit type once and kept in registers, each 64-key tile of K (row-major) and
// V (transposed) is staged in shared memory, S = Q K^T and O += P V run on the tensor cores with float32
// accumulation, and the softmax state of a row lives in the 4 lanes of its quad. The mask and tile alignment are
// those of the CUDA-core kernel (attention_prefill.cu), so a row's bits do not depend on its CTA's other rows.
#include <cmath>

#include "kernels/cuda/attention_common.cuh"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 128;
constexpr int kRows = 64;  // query rows per CTA, 16 per warp
constexpr int kKeys = 64;  // keys per tile
constexpr int kVtStride = kKeys + 8;  // V^T rows (one per dim), padded: B-fragment reads hit distinct banks

SIMT_DEVICE uint32_t pack16(float lo, float hi, bool bf16) {
  const uint32_t l = bf16 ? simt::f32_to_bf16(lo) : simt::f32_to_f16(lo);
  const uint32_t h = bf16 ? simt::f32_to_bf16(hi) : simt::f32_to_f16(hi);
  return l | (h << 16);
}

// Keys [first, first + count) into k_tile (row-major, tile_row_stride) and v_t (dim-major: v_t[d * kVtStride + j]);
// rows past count are zero.
template <int D>
SIMT_DEVICE void load_k_vt(const PagedKvCache& cache, const int32_t* table, int kv_head, int64_t first, int count,
                           uint16_t* k_tile, uint16_t* v_t) {
  constexpr int kChunks = D / 8;
  const int stride = tile_row_stride(D);
  for (int c = static_cast<int>(threadIdx.x); c < kKeys * kChunks; c += kThreads) {
    const int j = c / kChunks, part = c % kChunks;
    simt::U32x4 k{0, 0, 0, 0}, v{0, 0, 0, 0};
    if (j < count) {
      const int64_t pos = first + j;
      const int64_t slot = static_cast<int64_t>(table[pos / cache.block_size]) * cache.block_size + pos % cache.block_size;
      const int64_t off = slot * cache.slot_stride + static_cast<int64_t>(kv_head) * D + part * 8;
      k = simt::load16(static_cast<const uint16_t*>(cache.k) + off);
      v = simt::load16(static_cast<const uint16_t*>(cache.v) + off);
    }
    simt::store16(k_tile + j * stride + part * 8, k);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) {
      v_t[(part * 8 + 2 * i) * kVtStride + j] = static_cast<uint16_t>(simt::lo16(w[i]));
      v_t[(part * 8 + 2 * i + 1) * kVtStride + j] = static_cast<uint16_t>(simt::hi16(w[i]));
    }
  }
}

SIMT_DEVICE uint32_t smem_u32(const uint16_t* p) { return simt::load<uint32_t>(p); }

template <int D, bool kBf16>
__global__ void __launch_bounds__(kThreads)
    attention_prefill_mma_kernel(AttentionShape shape, const float* q, int64_t q_stride, PagedKvCache cache,
                                 BlockTables tables, const int32_t* cu_q, const int32_t* seq_lens, float* out,
                                 int64_t out_stride) {
  constexpr int kSteps = D / 16;  // k-steps of S = Q K^T
  constexpr int kDimTiles = D / 8;  // n-tiles of O
  const PrefillRows pr = prefill_rows(shape, cu_q, seq_lens, kRows);
  if (pr.rows == 0) return;
  const int group = pr.group, kv_head = pr.kv_head, h0 = pr.h0, rows = pr.rows;
  const int64_t seq = pr.seq, kv_len = pr.kv_len, n_tok = pr.n_tok, first_q = pr.first_q, pos0 = pr.pos0;

  SIMT_DYNAMIC_SMEM(uint8_t, smem);
  uint16_t* k_tile = reinterpret_cast<uint16_t*>(smem);
  uint16_t* v_t = k_tile + kKeys * tile_row_stride(D);
  const int kstride = tile_row_stride(D);

  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const int g = lane / 4, t = lane % 4;
  // This lane's two rows (g and g + 8 of the warp's 16) and their query positions.
  int row[2];
  int64_t qpos[2];
  bool valid[2];
  SIMT_UNROLL
  for (int h = 0; h < 2; ++h) {
    row[h] = warp * 16 + g + 8 * h;
    valid[h] = row[h] < rows;
    qpos[h] = pos0 + row[h] / group;
  }
  // Q fragments, pre-scaled: A(g, 2t..), A(g+8, 2t..), A(g, 2t+8..), A(g+8, 2t+8..) of each 16-dim step.
  uint32_t qa[kSteps][4];
  SIMT_UNROLL
  for (int k = 0; k < kSteps; ++k) {
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) {
      const int h = i % 2, d = 16 * k + 2 * t + 8 * (i / 2);
      float x0 = 0.0f, x1 = 0.0f;
      if (valid[h]) {
        const float* qr = q + (first_q + row[h] / group) * q_stride + (h0 + row[h] % group) * D + d;
        x0 = qr[0] * shape.scale;
        x1 = qr[1] * shape.scale;
      }
      qa[k][i] = pack16(x0, x1, kBf16);
    }
  }
  float o[kDimTiles][4];
  SIMT_UNROLL
  for (int n = 0; n < kDimTiles; ++n) {
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) o[n][i] = 0.0f;
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  const int32_t* table = tables.data + seq * tables.stride;
  const int64_t last_pos = pos0 + n_tok - 1;
  int64_t lo = shape.window > 0 ? pos0 - shape.window + 1 : 0;
  lo = lo < 0 ? 0 : lo / kKeys * kKeys;
  const int64_t hi = last_pos + 1 < kv_len ? last_pos + 1 : kv_len;

  for (int64_t t0 = lo; t0 < hi; t0 += kKeys) {
    const int count = static_cast<int>(kv_len - t0 < kKeys ? kv_len - t0 : kKeys);
    __syncthreads();
    load_k_vt<D>(cache, table, kv_head, t0, count, k_tile, v_t);
    __syncthreads();
    // S = Q K^T: 8 tiles of 8 keys; B(k, n) = K(key n, dim k).
    float s[kKeys / 8][4];
    SIMT_UNROLL
    for (int n = 0; n < kKeys / 8; ++n) {
      SIMT_UNROLL
      for (int i = 0; i < 4; ++i) s[n][i] = 0.0f;
      const uint16_t* krow = k_tile + (8 * n + g) * kstride + 2 * t;
      SIMT_UNROLL
      for (int k = 0; k < kSteps; ++k) {
        const uint32_t b[2] = {smem_u32(krow + 16 * k), smem_u32(krow + 16 * k + 8)};
        simt::mma_16816<kBf16>(s[n], qa[k], b, s[n]);
      }
    }
    // Mask, soft-cap, the rows' tile maxima over their quads.
    float tile_max[2] = {-INFINITY, -INFINITY};
    SIMT_UNROLL
    for (int n = 0; n < kKeys / 8; ++n) {
      SIMT_UNROLL
      for (int i = 0; i < 4; ++i) {
        const int h = i / 2, j = 8 * n + 2 * t + i % 2;
        const int64_t p = t0 + j;
        const bool visible = valid[h] && j < count && p <= qpos[h] && (shape.window <= 0 || p > qpos[h] - shape.window);
        float v = s[n][i];
        if (shape.softcap > 0.0f) v = shape.softcap * tanhf(v / shape.softcap);
        s[n][i] = visible ? v : -INFINITY;
        tile_max[h] = fmaxf(tile_max[h], s[n][i]);
      }
    }
    float alpha[2], row_sum[2] = {0.0f, 0.0f};
    SIMT_UNROLL
    for (int h = 0; h < 2; ++h) {
      const float m_new = fmaxf(m[h], simt::quad_max(tile_max[h]));
      alpha[h] = m_new == -INFINITY ? 1.0f : expf(m[h] - m_new);
      m[h] = m_new;
    }
    SIMT_UNROLL
    for (int n = 0; n < kKeys / 8; ++n) {
      SIMT_UNROLL
      for (int i = 0; i < 4; ++i) {
        const int h = i / 2;
        s[n][i] = m[h] == -INFINITY ? 0.0f : expf(s[n][i] - m[h]);
        row_sum[h] += s[n][i];
      }
    }
    SIMT_UNROLL
    for (int h = 0; h < 2; ++h) l[h] = l[h] * alpha[h] + simt::quad_sum(row_sum[h]);
    SIMT_UNROLL
    for (int n = 0; n < kDimTiles; ++n) {
      SIMT_UNROLL
      for (int i = 0; i < 4; ++i) o[n][i] *= alpha[i / 2];
    }
    // O += P V: P's accumulator layout is the A-fragment layout of the next product (16 keys per step).
    SIMT_UNROLL
    for (int k = 0; k < kKeys / 16; ++k) {
      const uint32_t pa[4] = {pack16(s[2 * k][0], s[2 * k][1], kBf16), pack16(s[2 * k][2], s[2 * k][3], kBf16),
                              pack16(s[2 * k + 1][0], s[2 * k + 1][1], kBf16),
                              pack16(s[2 * k + 1][2], s[2 * k + 1][3], kBf16)};
      SIMT_UNROLL
      for (int n = 0; n < kDimTiles; ++n) {
        const uint16_t* vrow = v_t + (8 * n + g) * kVtStride + 16 * k + 2 * t;
        const uint32_t b[2] = {smem_u32(vrow), smem_u32(vrow + 8)};
        simt::mma_16816<kBf16>(o[n], pa, b, o[n]);
      }
    }
  }
  SIMT_UNROLL
  for (int n = 0; n < kDimTiles; ++n) {
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) {
      const int h = i / 2;
      if (!valid[h]) continue;
      const int d = 8 * n + 2 * t + i % 2;
      out[(first_q + row[h] / group) * out_stride + (h0 + row[h] % group) * D + d] = o[n][i] / l[h];
    }
  }
}

template <int D, bool kBf16>
Status launch(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
              const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
              int64_t max_q_len, float* out, int64_t out_stride, Stream stream) {
  const int group = shape.n_heads / shape.n_kv_heads;
  const size_t smem = (static_cast<size_t>(kKeys) * tile_row_stride(D) + static_cast<size_t>(D) * kVtStride) * 2;
  return simt::launch("attention_prefill_mma", attention_prefill_mma_kernel<D, kBf16>,
                      dim3(simt::blocks_for(max_q_len, kRows / group), static_cast<unsigned>(shape.n_kv_heads),
                           static_cast<unsigned>(n_seqs)),
                      dim3(kThreads), smem, stream, shape, q, q_stride, cache, tables, cu_q, seq_lens, out, out_stride);
}

template <int D>
Status launch_for_type(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                       const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                       int64_t max_q_len, float* out, int64_t out_stride, Stream stream) {
  if (cache.type == KvType::kBF16) {
    return launch<D, true>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
  }
  return launch<D, false>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
}

}  // namespace

bool attention_prefill_mma_supports(const AttentionShape& shape) {
  const int group = shape.n_heads / shape.n_kv_heads;
  return group <= kRows && (shape.head_dim == 64 || shape.head_dim == 80 || shape.head_dim == 96 || shape.head_dim == 128);
}

Status attention_prefill_mma(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                             const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                             int64_t max_q_len, float* out, int64_t out_stride, Stream stream) {
  switch (shape.head_dim) {
    case 64: return launch_for_type<64>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
    case 80: return launch_for_type<80>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
    case 96: return launch_for_type<96>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
    case 128: return launch_for_type<128>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride, stream);
    default: return invalid_argument("attention_prefill_mma: head_dim " + std::to_string(shape.head_dim));
  }
}

}  // namespace podserve::kernels::cuda
