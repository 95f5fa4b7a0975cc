// Prefill / chunked-prefill attention over the paged cache (device_ops.h attention_prefill), flash-attention style
// on CUDA cores: one CTA per (tile of a sequence's queries, K/V head, sequence) whose rows are the tile's tokens x
// the GQA group's heads; key tiles (aligned at multiples of the tile size from position 0) are staged in shared
// memory, each row keeps its running max / sum / output (online softmax), the mask is bottom-right causal plus the
// sliding window. A row's arithmetic does not depend on the other rows of its CTA (fully masked tiles are exact
// no-ops), so a token's output does not depend on the batch.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_common.cuh"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int kWarps = kThreads / 32;

// kRows query rows x kKeys keys per tile; kOutPerThread = kRows * head_dim / kThreads, rounded up.
template <int kRows, int kKeys, int kOutPerThread>
__global__ void __launch_bounds__(kThreads)
    attention_prefill_kernel(AttentionShape shape, const float* q, int64_t q_stride, PagedKvCache cache,
                             BlockTables tables, const int32_t* cu_q, const int32_t* seq_lens, float* out,
                             int64_t out_stride) {
  constexpr int kRowGroups = kThreads / kKeys;            // threads per key column in the score phase
  constexpr int kRowsPerThread = kRows / kRowGroups;
  const PrefillRows pr = prefill_rows(shape, cu_q, seq_lens, kRows);
  if (pr.rows == 0) return;
  const int D = shape.head_dim, group = pr.group, kv_head = pr.kv_head, h0 = pr.h0, rows = pr.rows;
  const int64_t seq = pr.seq, kv_len = pr.kv_len, n_tok = pr.n_tok, first_q = pr.first_q, pos0 = pr.pos0;

  SIMT_DYNAMIC_SMEM(uint8_t, smem);
  const int row_stride = tile_row_stride(D);
  uint16_t* k_tile = reinterpret_cast<uint16_t*>(smem);
  uint16_t* v_tile = k_tile + kKeys * row_stride;
  float* qs = reinterpret_cast<float*>(v_tile + kKeys * row_stride);  // [kRows][D], row r = token r / group, head r % group
  float* scores = qs + kRows * D;                                     // [kRows][kKeys]
  float* m_s = scores + kRows * kKeys;
  float* l_s = m_s + kRows;
  float* alpha_s = l_s + kRows;

  for (int e = static_cast<int>(threadIdx.x); e < rows * D; e += kThreads) {
    const int r = e / D, d = e % D;
    qs[e] = q[(first_q + r / group) * q_stride + (h0 + r % group) * D + d];
  }
  for (int r = static_cast<int>(threadIdx.x); r < kRows; r += kThreads) {
    m_s[r] = -INFINITY;
    l_s[r] = 0.0f;
  }
  float acc[kOutPerThread];
  SIMT_UNROLL
  for (int i = 0; i < kOutPerThread; ++i) acc[i] = 0.0f;

  const int32_t* table = tables.data + seq * tables.stride;
  const int64_t last_pos = pos0 + n_tok - 1;
  int64_t lo = shape.window > 0 ? pos0 - shape.window + 1 : 0;
  lo = lo < 0 ? 0 : lo / kKeys * kKeys;
  const int64_t hi = last_pos + 1 < kv_len ? last_pos + 1 : kv_len;
  const int warp = static_cast<int>(threadIdx.x / 32);

  for (int64_t t0 = lo; t0 < hi; t0 += kKeys) {
    const int count = static_cast<int>(kv_len - t0 < kKeys ? kv_len - t0 : kKeys);
    __syncthreads();  // the previous tile's readers are done
    load_kv_tile(cache, table, kv_head, D, t0, count, kKeys, k_tile, v_tile);
    __syncthreads();
    {  // Scores: thread -> key j, rows rg, rg + kRowGroups, ...; each K chunk read once for all its rows.
      const int j = static_cast<int>(threadIdx.x) % kKeys, rg = static_cast<int>(threadIdx.x) / kKeys;
      float dot[kRowsPerThread];
      SIMT_UNROLL
      for (int k = 0; k < kRowsPerThread; ++k) dot[k] = 0.0f;
      for (int d = 0; d < D; d += 8) {
        float k8[8];
        unpack8(simt::load16(k_tile + j * row_stride + d), cache.type, k8);
        SIMT_UNROLL
        for (int k = 0; k < kRowsPerThread; ++k) {
          const float* qr = qs + (rg + k * kRowGroups) * D + d;
          SIMT_UNROLL
          for (int i = 0; i < 8; ++i) dot[k] += qr[i] * k8[i];
        }
      }
      const int64_t p = t0 + j;
      SIMT_UNROLL
      for (int k = 0; k < kRowsPerThread; ++k) {
        const int r = rg + k * kRowGroups;
        const int64_t qpos = pos0 + r / group;
        const bool visible = r < rows && j < count && p <= qpos && (shape.window <= 0 || p > qpos - shape.window);
        scores[r * kKeys + j] = visible ? finish_score(dot[k], shape.scale, shape.softcap) : -INFINITY;
      }
    }
    __syncthreads();
    for (int r = warp; r < kRows; r += kWarps) {
      float m = m_s[r], l = l_s[r];
      const float alpha = softmax_tile_row(scores + r * kKeys, kKeys, m, l);
      simt::syncwarp();
      if (threadIdx.x % 32 == 0) {
        m_s[r] = m;
        l_s[r] = l;
        alpha_s[r] = alpha;
      }
    }
    __syncthreads();
    SIMT_UNROLL
    for (int i = 0; i < kOutPerThread; ++i) {
      const int e = static_cast<int>(threadIdx.x) + i * static_cast<int>(kThreads);
      if (e < kRows * D) {
        const int r = e / D, d = e % D;
        const float* p = scores + r * kKeys;
        float a = acc[i] * alpha_s[r];
        for (int j = 0; j < count; ++j) a += p[j] * kv_value(v_tile + j * row_stride + d, cache.type);
        acc[i] = a;
      }
    }
  }
  __syncthreads();
  SIMT_UNROLL
  for (int i = 0; i < kOutPerThread; ++i) {
    const int e = static_cast<int>(threadIdx.x) + i * static_cast<int>(kThreads);
    if (e < rows * D) {
      const int r = e / D, d = e % D;
      out[(first_q + r / group) * out_stride + (h0 + r % group) * D + d] = acc[i] / l_s[r];
    }
  }
}

template <int kRows, int kKeys, int kOut>
Status launch_prefill(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                      const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                      int64_t max_q_len, float* out, int64_t out_stride, Stream stream) {
  const int group = shape.n_heads / shape.n_kv_heads;
  if (group > kRows) {
    return invalid_argument("attention_prefill: at most " + std::to_string(kRows) + " query heads per K/V head at head_dim " +
                            std::to_string(shape.head_dim));
  }
  const int64_t tokens_per_cta = kRows / group;
  const size_t smem = static_cast<size_t>(2 * kKeys * tile_row_stride(shape.head_dim)) * 2 +
                      (static_cast<size_t>(kRows) * shape.head_dim + static_cast<size_t>(kRows) * kKeys + 3 * kRows) * 4;
  return simt::launch("attention_prefill", attention_prefill_kernel<kRows, kKeys, kOut>,
                      dim3(simt::blocks_for(max_q_len, tokens_per_cta), static_cast<unsigned>(shape.n_kv_heads),
                           static_cast<unsigned>(n_seqs)),
                      dim3(kThreads), smem, stream, shape, q, q_stride, cache, tables, cu_q, seq_lens, out, out_stride);
}

std::atomic<PrefillAttentionKernel>& kernel_choice() {
  static std::atomic<PrefillAttentionKernel> choice{[] {
    const char* env = std::getenv("PODSERVE_CUDA_ATTENTION");
    return env != nullptr && std::strcmp(env, "cuda-cores") == 0 ? PrefillAttentionKernel::kCudaCores
                                                                   : PrefillAttentionKernel::kAuto;
  }()};
  return choice;
}

}  // namespace

void set_prefill_attention_kernel(PrefillAttentionKernel k) { kernel_choice().store(k); }
PrefillAttentionKernel prefill_attention_kernel() { return kernel_choice().load(); }

Status attention_prefill(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                         const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                         int64_t max_q_len, float* out, int64_t out_stride, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_attention_shape(shape, cache));
  if (n_seqs <= 0 || max_q_len <= 0) return ok_status();
  if (n_seqs > 65535) return invalid_argument("attention_prefill: at most 65535 sequences per launch");
  if (prefill_attention_kernel() == PrefillAttentionKernel::kAuto && attention_prefill_mma_supports(shape)) {
    return attention_prefill_mma(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out, out_stride,
                                 stream);
  }
  if (shape.head_dim <= 64) {
    return launch_prefill<64, 64, 16>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out,
                                      out_stride, stream);
  }
  if (shape.head_dim <= 128) {
    return launch_prefill<64, 64, 32>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out,
                                      out_stride, stream);
  }
  return launch_prefill<32, 32, 32>(shape, q, q_stride, cache, tables, cu_q, seq_lens, n_seqs, max_q_len, out,
                                    out_stride, stream);
}

}  // namespace podserve::kernels::cuda
