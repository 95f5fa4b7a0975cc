// Paged-attention decode with flash-decoding (device_ops.h attention_decode). One CTA per (K/V head, sequence,
// split): the whole GQA group's queries against the split's keys, 64-key tiles staged in shared memory (each K/V
// row read from memory once per group), online softmax per head. A sequence of one split writes its output
// directly; longer ones write each split's normalized output and log-sum-exp to scratch, and a second kernel merges
// them in split order. The split count comes from the sequence's length (and window) only: batch invariance.
#include <cmath>

#include "kernels/cuda/attention_common.cuh"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 128;
constexpr int kTile = 64;
constexpr int64_t kPartition = 256;  // keys per split before the split count reaches kAttentionMaxSplits

// Keys [first, len) a query at position len - 1 sees, and how they are cut into splits of part_len keys.
struct SplitPlan {
  int64_t first = 0;
  int64_t part_len = 0;
  int32_t splits = 0;
};

SIMT_HOST_DEVICE SplitPlan plan_splits(int64_t len, int32_t window) {
  SplitPlan p;
  if (len <= 0) return p;
  p.first = window > 0 && len > window ? len - window : 0;
  const int64_t keys = len - p.first;
  int64_t splits = (keys + kPartition - 1) / kPartition;
  if (splits > kAttentionMaxSplits) splits = kAttentionMaxSplits;
  p.part_len = ((keys + splits - 1) / splits + kTile - 1) / kTile * kTile;
  p.splits = static_cast<int32_t>((keys + p.part_len - 1) / p.part_len);
  return p;
}

// Scratch layout: partial outputs [n_seqs, n_heads, kAttentionMaxSplits, head_dim], then their log-sum-exps
// [n_seqs, n_heads, kAttentionMaxSplits].
SIMT_HOST_DEVICE size_t partial_out_elems(int64_t n_seqs, int32_t n_heads, int32_t head_dim) {
  return static_cast<size_t>(n_seqs) * n_heads * kAttentionMaxSplits * head_dim;
}

// kQuadsPerThread: groups of 4 consecutive outputs (of group heads x head_dim) per thread,
// group * head_dim <= 4 * kThreads * kQuadsPerThread. A quad's V values are one 8-byte shared-memory read.
template <int kQuadsPerThread>
__global__ void __launch_bounds__(kThreads)
    attention_decode_kernel(AttentionShape shape, const float* q, int64_t q_stride, PagedKvCache cache,
                            BlockTables tables, const int32_t* seq_lens, float* scratch, int64_t n_seqs, float* out,
                            int64_t out_stride) {
  const int kv_head = static_cast<int>(blockIdx.x);
  const int64_t seq = blockIdx.y;
  const int split = static_cast<int>(blockIdx.z);
  const int D = shape.head_dim, group = shape.n_heads / shape.n_kv_heads, h0 = kv_head * group;
  const int64_t len = seq_lens[seq];
  const SplitPlan plan = plan_splits(len, shape.window);
  if (len <= 0) {  // a padded row: zeros (once, by split 0)
    if (split == 0) {
      for (int e = static_cast<int>(threadIdx.x); e < group * D; e += kThreads) out[seq * out_stride + h0 * D + e] = 0.0f;
    }
    return;
  }
  if (split >= plan.splits) return;
  const int64_t begin = plan.first + split * plan.part_len;
  const int64_t end = begin + plan.part_len < len ? begin + plan.part_len : len;

  // Shared memory: K tile, V tile (16-bit), the group's queries (float), scores, per-head m / l / alpha.
  SIMT_DYNAMIC_SMEM(uint8_t, smem);
  const int row = tile_row_stride(D);
  uint16_t* k_tile = reinterpret_cast<uint16_t*>(smem);
  uint16_t* v_tile = k_tile + kTile * row;
  float* qs = reinterpret_cast<float*>(v_tile + kTile * row);
  float* scores = qs + group * D;
  float* m_s = scores + group * kTile;
  float* l_s = m_s + group;
  float* alpha_s = l_s + group;

  for (int e = static_cast<int>(threadIdx.x); e < group * D; e += kThreads) qs[e] = q[seq * q_stride + h0 * D + e];
  for (int g = static_cast<int>(threadIdx.x); g < group; g += kThreads) {
    m_s[g] = -INFINITY;
    l_s[g] = 0.0f;
  }
  float acc[kQuadsPerThread][4];
  SIMT_UNROLL
  for (int i = 0; i < kQuadsPerThread; ++i) {
    SIMT_UNROLL
    for (int k = 0; k < 4; ++k) acc[i][k] = 0.0f;
  }
  const int32_t* table = tables.data + seq * tables.stride;
  const int warp = static_cast<int>(threadIdx.x / 32), n_warps = kThreads / 32;

  for (int64_t t0 = begin; t0 < end; t0 += kTile) {
    const int count = static_cast<int>(end - t0 < kTile ? end - t0 : kTile);
    __syncthreads();  // the previous tile's readers are done
    load_kv_tile(cache, table, kv_head, D, t0, count, kTile, k_tile, v_tile);
    __syncthreads();
    // Scores: thread -> (key j, heads g = j-group, j-group + 2, ...): one K row read per 8 dims, q broadcast.
    for (int e = static_cast<int>(threadIdx.x); e < group * kTile; e += kThreads) {
      const int j = e % kTile, g = e / kTile;
      float s = -INFINITY;
      if (j < count) {
        const float* qg = qs + g * D;
        float dot = 0.0f;
        for (int d = 0; d < D; d += 8) {
          float k8[8];
          unpack8(simt::load16(k_tile + j * row + d), cache.type, k8);
          SIMT_UNROLL
          for (int i = 0; i < 8; ++i) dot += qg[d + i] * k8[i];
        }
        s = finish_score(dot, shape.scale, shape.softcap);
      }
      scores[g * kTile + j] = s;
    }
    __syncthreads();
    for (int g = warp; g < group; g += n_warps) {
      float m = m_s[g], l = l_s[g];
      const float alpha = softmax_tile_row(scores + g * kTile, kTile, m, l);
      simt::syncwarp();  // every lane has read m_s / l_s before lane 0 writes them
      if (threadIdx.x % 32 == 0) {
        m_s[g] = m;
        l_s[g] = l;
        alpha_s[g] = alpha;
      }
    }
    __syncthreads();
    SIMT_UNROLL
    for (int i = 0; i < kQuadsPerThread; ++i) {
      const int e = 4 * (static_cast<int>(threadIdx.x) + i * static_cast<int>(kThreads));
      if (e < group * D) {
        const int g = e / D, d = e % D;
        const float* p = scores + g * kTile;
        const float alpha = alpha_s[g];
        float a[4];
        SIMT_UNROLL
        for (int k = 0; k < 4; ++k) a[k] = acc[i][k] * alpha;
        for (int j = 0; j < count; ++j) {
          const simt::U32x2 v = simt::load<simt::U32x2>(v_tile + j * row + d);  // 4 values, 8-byte aligned
          const float pj = p[j];
          float v4[4];
          kv_unpack2(v.x, cache.type, v4);
          kv_unpack2(v.y, cache.type, v4 + 2);
          SIMT_UNROLL
          for (int k = 0; k < 4; ++k) a[k] += pj * v4[k];
        }
        SIMT_UNROLL
        for (int k = 0; k < 4; ++k) acc[i][k] = a[k];
      }
    }
  }
  __syncthreads();
  const bool direct = plan.splits == 1;
  SIMT_UNROLL
  for (int i = 0; i < kQuadsPerThread; ++i) {
    const int e = 4 * (static_cast<int>(threadIdx.x) + i * static_cast<int>(kThreads));
    if (e < group * D) {
      const int g = e / D, d = e % D;
      SIMT_UNROLL
      for (int k = 0; k < 4; ++k) {
        const float o = acc[i][k] / l_s[g];
        if (direct) {
          out[seq * out_stride + (h0 + g) * D + d + k] = o;
        } else {
          scratch[((static_cast<size_t>(seq) * shape.n_heads + h0 + g) * kAttentionMaxSplits + split) * D + d + k] = o;
        }
      }
    }
  }
  if (!direct) {
    float* lse = scratch + partial_out_elems(n_seqs, shape.n_heads, D);
    for (int g = static_cast<int>(threadIdx.x); g < group; g += kThreads) {
      lse[(static_cast<size_t>(seq) * shape.n_heads + h0 + g) * kAttentionMaxSplits + split] = m_s[g] + logf(l_s[g]);
    }
  }
}

// Merges a multi-split sequence's partial outputs: O = sum_s w_s O_s / sum_s w_s, w_s = exp(lse_s - max lse), in
// split order. One CTA per (sequence, head).
__global__ void attention_merge_kernel(AttentionShape shape, const int32_t* seq_lens, const float* scratch,
                                       int64_t n_seqs, float* out, int64_t out_stride) {
  const int64_t seq = blockIdx.x;
  const int h = static_cast<int>(blockIdx.y), D = shape.head_dim;
  const SplitPlan plan = plan_splits(seq_lens[seq], shape.window);
  if (plan.splits <= 1) return;
  const float* lse = scratch + partial_out_elems(n_seqs, shape.n_heads, D) +
                     (static_cast<size_t>(seq) * shape.n_heads + h) * kAttentionMaxSplits;
  float max_lse = -INFINITY;
  for (int s = 0; s < plan.splits; ++s) max_lse = fmaxf(max_lse, lse[s]);
  float weights[kAttentionMaxSplits];
  float total = 0.0f;
  for (int s = 0; s < kAttentionMaxSplits; ++s) {
    weights[s] = s < plan.splits ? expf(lse[s] - max_lse) : 0.0f;
    total += weights[s];
  }
  const float* partial = scratch + (static_cast<size_t>(seq) * shape.n_heads + h) * kAttentionMaxSplits * D;
  for (int d = static_cast<int>(threadIdx.x); d < D; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < plan.splits; ++s) o += weights[s] * partial[s * D + d];
    out[seq * out_stride + h * D + d] = o / total;
  }
}

size_t decode_smem_bytes(int group, int head_dim) {
  return static_cast<size_t>(2 * kTile * tile_row_stride(head_dim)) * 2 +
         (static_cast<size_t>(group) * head_dim + static_cast<size_t>(group) * kTile + 3 * static_cast<size_t>(group)) * 4;
}

template <int kOut>
Status launch_decode(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                     const BlockTables& tables, const int32_t* seq_lens, int64_t n_seqs, float* scratch, float* out,
                     int64_t out_stride, Stream stream) {
  const int group = shape.n_heads / shape.n_kv_heads;
  return simt::launch("attention_decode", attention_decode_kernel<kOut>,
                      dim3(static_cast<unsigned>(shape.n_kv_heads), static_cast<unsigned>(n_seqs), kAttentionMaxSplits),
                      dim3(kThreads), decode_smem_bytes(group, shape.head_dim), stream, shape, q, q_stride, cache,
                      tables, seq_lens, scratch, n_seqs, out, out_stride);
}

// The instantiation whose outputs per thread fit group * head_dim.
Status launch_decode_for_group(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                               const BlockTables& tables, const int32_t* seq_lens, int64_t n_seqs, float* sc,
                               float* out, int64_t out_stride, Stream stream) {
  const int quads = (shape.n_heads / shape.n_kv_heads * shape.head_dim / 4 + kThreads - 1) / kThreads;
  switch (quads <= 1 ? 1 : quads <= 2 ? 2 : quads <= 4 ? 4 : 8) {
    case 1: return launch_decode<1>(shape, q, q_stride, cache, tables, seq_lens, n_seqs, sc, out, out_stride, stream);
    case 2: return launch_decode<2>(shape, q, q_stride, cache, tables, seq_lens, n_seqs, sc, out, out_stride, stream);
    case 4: return launch_decode<4>(shape, q, q_stride, cache, tables, seq_lens, n_seqs, sc, out, out_stride, stream);
    default: return launch_decode<8>(shape, q, q_stride, cache, tables, seq_lens, n_seqs, sc, out, out_stride, stream);
  }
}

}  // namespace

Status check_attention_shape(const AttentionShape& s, const PagedKvCache& cache) {
  if (s.n_heads <= 0 || s.n_kv_heads <= 0 || s.n_heads % s.n_kv_heads != 0) {
    return invalid_argument("attention: n_heads must be a positive multiple of n_kv_heads");
  }
  if (s.head_dim <= 0 || s.head_dim % 8 != 0 || s.head_dim > 256) {
    return invalid_argument("attention: head_dim must be a multiple of 8 in 8..256 (got " + std::to_string(s.head_dim) + ")");
  }
  if (s.n_heads / s.n_kv_heads > 64) return invalid_argument("attention: at most 64 query heads per K/V head");
  if (s.n_heads / s.n_kv_heads * s.head_dim > 4096) return invalid_argument("attention: group * head_dim above 4096");
  if (cache.block_size <= 0 || cache.slot_stride % 8 != 0 || cache.slot_stride < int64_t{s.n_kv_heads} * s.head_dim) {
    return invalid_argument("attention: the cache's block_size must be positive and slot_stride a multiple of 8 "
                            ">= n_kv_heads * head_dim");
  }
  return ok_status();
}

int32_t attention_decode_splits(int64_t seq_len) { return plan_splits(seq_len, 0).splits; }

size_t attention_decode_scratch_bytes(int64_t max_seqs, int32_t n_heads, int32_t head_dim) {
  return (partial_out_elems(max_seqs, n_heads, head_dim) + static_cast<size_t>(max_seqs) * n_heads * kAttentionMaxSplits) *
         sizeof(float);
}

Status attention_decode(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                        const BlockTables& tables, const int32_t* seq_lens, int64_t n_seqs, void* scratch,
                        float* out, int64_t out_stride, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_attention_shape(shape, cache));
  if (n_seqs <= 0) return ok_status();
  if (n_seqs > 65535) return invalid_argument("attention_decode: at most 65535 sequences per launch");
  auto* sc = static_cast<float*>(scratch);
  PODSERVE_RETURN_IF_ERROR(launch_decode_for_group(shape, q, q_stride, cache, tables, seq_lens, n_seqs, sc, out,
                                                   out_stride, stream));
  return simt::launch("attention_merge", attention_merge_kernel,
                      dim3(static_cast<unsigned>(n_seqs), static_cast<unsigned>(shape.n_heads)), dim3(kThreads), 0,
                      stream, shape, seq_lens, sc, n_seqs, out, out_stride);
}

}  // namespace podserve::kernels::cuda
