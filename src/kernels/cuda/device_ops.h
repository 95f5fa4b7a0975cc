// The device op contract: every CUDA kernel the forward pass launches, declared once with shapes, layouts,
// aliasing rules and its stream. It mirrors ops.h / model_ops.h / fused_ops.h (same math, same `ref::` oracles)
// with device pointers. This header needs no CUDA header: `Stream` is cudaStream_t's own type.
//
// Conventions for every entry point below:
// - Every pointer is device memory (in the emulated test build: host memory). Activations are float32, row-major;
//   a "stride" is the distance in elements between consecutive rows (tokens). Integer arrays are int32.
// - Each call enqueues its work on `stream` and returns without synchronizing. The returned Status says whether
//   the shapes are supported and the launch was accepted; a kernel fault shows up at the next synchronization.
// - No entry point allocates device memory or synchronizes, so every one may be captured in a CUDA graph
//   (GemmContext::create allocates: call it before any capture).
// - Unless stated, outputs must not overlap inputs.
// - Batch invariance: a token's result does not depend on the other tokens in the launch, for every kernel here
//   except gemm (cuBLASLt picks its algorithm, hence its reduction order, per shape). gemv gives each token the
//   same bits for any n <= kGemvMaxTokens; attention_decode splits a sequence's keys by its length only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/dtype.h"
#include "base/status.h"
#include "kernels/lora_ops.h"
#include "kernels/ops.h"

struct CUstream_st;

namespace podserve::kernels::cuda {

/// cudaStream_t (nullptr: the legacy default stream).
using Stream = CUstream_st*;

// ---------------------------------------------------------------------------------------------------------------
// Weights. A MatrixView (ops.h) whose `data` is device memory, in the same bytes as the file (GGUF blocks or plain
// F32/F16/BF16 rows): F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. `data` must be 16-byte
// aligned (cudaMalloc gives 256) or a row slice (data + r * row_bytes) of such a matrix, e.g. q | k | v rows of a
// fused projection; the kernels use 16-byte loads where the rows allow them.

/// Whether the device kernels read weights of this type (gemv, embedding, dequantize).
bool device_supports(DType type);

// ---------------------------------------------------------------------------------------------------------------
// Embedding and element-wise ops.

/// out[t, :] = dequantize(table row tokens[t]) * scale, for t < n. out: [n, table.cols] (stride table.cols).
/// scale = sqrt(hidden) for Gemma, else 1. A token id outside [0, table.rows) gives a row of NaN (ids are
/// validated on the host before; this only keeps a bad id from reading out of bounds).
Status embedding(const MatrixView& table, const int32_t* tokens, int64_t n, float scale, float* out, Stream stream);

/// y[r] = x[src_r] / sqrt(mean(x[src_r]^2) + eps) * weight, for r < rows, where src_r = rows_index ? rows_index[r]
/// : r. x: rows of `dim` at x_stride; y: at y_stride; weight: [dim] (Gemma's 1 + w is folded in by the loader).
/// y may alias x when rows_index is null and the strides match. Per-head q/k norms: rows = tokens * heads,
/// dim = head_dim (or use rope_qk_kv_write's fused norm).
Status rms_norm(const float* x, int64_t x_stride, const int32_t* rows_index, const float* weight, float* y,
                int64_t y_stride, int64_t rows, int64_t dim, float eps, Stream stream);

/// The residual step: x[r] += h[r], then y[r] = rms_norm(x[r]) * weight, for r < rows; x, h, y: [rows, dim]
/// contiguous. y may alias h (not x).
Status add_rms_norm(float* x, const float* h, const float* weight, float* y, int64_t rows, int64_t dim, float eps,
                    Stream stream);

/// x[i] += h[i] for i < n.
Status add(float* x, const float* h, int64_t n, Stream stream);

/// y[r, c] += bias[c] for r < rows, c < cols; y rows at y_stride (Qwen2's q/k/v biases).
Status add_bias(float* y, int64_t y_stride, const float* bias, int64_t rows, int64_t cols, Stream stream);

enum class Activation : uint8_t { kSilu, kGeluTanh };
/// out[r, i] = act(gate[r, i]) * up[r, i] for r < rows, i < cols (ref::silu_mul / ref::gelu_tanh_mul). Each of
/// gate, up, out has its own row stride, so a fused gate|up projection ([rows, 2 * cols]: gate = p, up = p + cols,
/// both stride 2 * cols) needs no copy. out may alias gate or up (same stride).
Status act_mul(Activation act, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
               float* out, int64_t out_stride, int64_t rows, int64_t cols, Stream stream);

/// x[i] = cap * tanh(x[i] / cap) for i < n (final logits soft-cap, Gemma 2). cap > 0.
Status softcap(float* x, int64_t n, float cap, Stream stream);

/// Rounds float32 to bf16 / fp16 bits (round to nearest even, as base/fp16.h): out[i] = bits(x[i]), i < n.
Status to_bf16(const float* x, uint16_t* out, int64_t n, Stream stream);
Status to_fp16(const float* x, uint16_t* out, int64_t n, Stream stream);

// ---------------------------------------------------------------------------------------------------------------
// RoPE, q/k norm and the K/V cache write.

/// One layer's paged K/V pool: slot s (= block * block_size + offset), K/V head h, dim d is element
/// s * slot_stride + h * head_dim + d of `k` (and `v`), in `type` (vLLM's flash layout [blocks, block_size,
/// kv_heads, head_dim] when slot_stride = kv_heads * head_dim). slot_stride and head_dim are multiples of 8 and
/// the pointers 16-byte aligned, so a head's row is read with 16-byte loads.
enum class KvType : uint8_t { kF16, kBF16 };
struct PagedKvCache {
  void* k = nullptr;
  void* v = nullptr;
  KvType type = KvType::kF16;
  int64_t slot_stride = 0;
  int32_t block_size = 16;
};

/// Block tables of a batch: sequence i's table is data[i * stride, ...), block j of it holds positions
/// [j * block_size, (j + 1) * block_size).
struct BlockTables {
  const int32_t* data = nullptr;
  int32_t stride = 0;
};

enum class RopeKind : uint8_t {
  kNone,              // no rotation (the K/V write only)
  kInterleavedTheta,  // ref::rope_interleaved: pairs (2i, 2i+1), angle pos * theta^(-2i/rot_dim) (double precision)
  kInterleavedFreqs,  // ref::rope_interleaved_freqs: pairs (2i, 2i+1), angle pos * inv_freq[i]
  kRotateHalf,        // ref::rope_rotate_half: pairs (i, i + rot_dim/2), angle pos * inv_freq[i], times attn_factor
};
struct RopeParams {
  RopeKind kind = RopeKind::kNone;
  int32_t rot_dim = 0;              // the first rot_dim dims of each head rotate (partial rotary), even, <= head_dim
  float theta = 10000.0f;           // kInterleavedTheta
  const float* inv_freq = nullptr;  // device, [rot_dim / 2]; kInterleavedFreqs, kRotateHalf
  float attn_factor = 1.0f;         // kRotateHalf: cos and sin are scaled by it (YaRN / longrope)
};

/// The attention input step of a layer, per token t < n_tokens:
///   optional per-head RMSNorm of q and k (q_norm / k_norm: [head_dim] weights, null = none; Qwen3, Gemma 3),
///   RoPE of q and k at positions[t], in place (q: [n_tokens, q_stride], head h at h * head_dim; k likewise),
///   then k and v (v: [n_tokens, v_stride], not modified) written to the cache at slot slots[t], converted to the
///   cache type (round to nearest even). slots[t] < 0 skips the write (padded CUDA-graph rows); q and k are still
///   rotated. q, k and v must not overlap each other (they may be column slices of one fused qkv buffer).
Status rope_qk_kv_write(float* q, int64_t q_stride, int32_t n_heads, float* k, int64_t k_stride, const float* v,
                        int64_t v_stride, int32_t n_kv_heads, int32_t head_dim, const int32_t* positions,
                        const int32_t* slots, int64_t n_tokens, const RopeParams& rope, const float* q_norm,
                        const float* k_norm, float norm_eps, const PagedKvCache& cache, Stream stream);

// ---------------------------------------------------------------------------------------------------------------
// Attention over the paged cache. q: [tokens, q_stride], query head h of a token at h * head_dim; out likewise at
// out_stride (out must not overlap q). Query head h reads K/V head h / (n_heads / n_kv_heads). head_dim is a
// multiple of 8, at most 256. Scores: s = q.k * scale, then softcap * tanh(s / softcap) when softcap > 0; a
// query at position p sees positions (p - window, p] when window > 0, else [0, p].

struct AttentionShape {
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  float scale = 1.0f;
  float softcap = 0.0f;
  int32_t window = 0;
};

/// Decode: one query per sequence, at position seq_lens[i] - 1 (its own K/V already written), over positions
/// [0, seq_lens[i]) of sequence i. q, out: [n_seqs, stride]. seq_lens[i] == 0 marks a padded row: its output is
/// zero. Flash-decoding: a sequence's keys are cut into attention_decode_splits(seq_len) parts (from its length
/// only, so its bits do not depend on the batch), each part on its own CTA with the whole GQA group of one K/V
/// head, merged by log-sum-exp in part order. `scratch` holds attention_decode_scratch_bytes(n_seqs, ...) bytes
/// (size it for the largest captured batch; 256-byte aligned). The engine must send every sequence that has one
/// new token here (not through attention_prefill) so a token's bits do not depend on what else is scheduled.
inline constexpr int32_t kAttentionMaxSplits = 16;
int32_t attention_decode_splits(int64_t seq_len);
size_t attention_decode_scratch_bytes(int64_t max_seqs, int32_t n_heads, int32_t head_dim);
Status attention_decode(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                        const BlockTables& tables, const int32_t* seq_lens, int64_t n_seqs, void* scratch,
                        float* out, int64_t out_stride, Stream stream);

/// Prefill and chunked prefill (varlen, flash-attention style online softmax): sequence i's queries are rows
/// [cu_q[i], cu_q[i + 1]) of q (cu_q: [n_seqs + 1], cu_q[0] = 0) and are its last q_len_i = cu_q[i+1] - cu_q[i]
/// positions of seq_lens[i] (a cached prefix plus this chunk, whose K/V are already written): row j of it sits at
/// position seq_lens[i] - q_len_i + j (bottom-right aligned causal mask). max_q_len >= every q_len_i (the grid
/// size, known on the host). A row's result does not depend on the other rows of the launch.
Status attention_prefill(const AttentionShape& shape, const float* q, int64_t q_stride, const PagedKvCache& cache,
                         const BlockTables& tables, const int32_t* cu_q, const int32_t* seq_lens, int64_t n_seqs,
                         int64_t max_q_len, float* out, int64_t out_stride, Stream stream);

/// Which prefill kernel attention_prefill runs: kAuto takes the tensor-core one (q and P rounded to the cache's
/// 16-bit type, float32 accumulation) for head_dim 64/80/96/128, else the CUDA-core one (float32 throughout);
/// kCudaCores always the latter. Starts as PODSERVE_CUDA_ATTENTION=cuda-cores|auto (default auto). Set it before
/// any capture: a graph keeps the kernel it was captured with.
enum class PrefillAttentionKernel : uint8_t { kAuto, kCudaCores };
void set_prefill_attention_kernel(PrefillAttentionKernel k);
PrefillAttentionKernel prefill_attention_kernel();

// ---------------------------------------------------------------------------------------------------------------
// Matmul: y[t, r] = sum_c w[r, c] * x[t, c] (+ bias[r]), as ref::matmul. x: [n, w.cols] at x_stride; y: [n, w.rows]
// at y_stride (y may be a column slice of a wider buffer). y must not overlap x.

/// Decode GEMV for n <= kGemvMaxTokens tokens: the weights are read once (dequantized in registers, float32
/// accumulation, x in float32), every token's row dotted with them. Each output's summation order is fixed (it
/// does not depend on n): a token's bits are the same in any batch of <= kGemvMaxTokens tokens.
inline constexpr int64_t kGemvMaxTokens = 8;
Status gemv(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
            int64_t y_stride, Stream stream);

/// w dequantized (or converted) to bf16 bits: out [w.rows, w.cols] row-major. For quantized weights on the
/// cuBLASLt path, and a test of every dequantizer against ref::dequantize_row_ref.
Status dequantize_bf16(const MatrixView& w, uint16_t* out, Stream stream);

/// cuBLASLt GEMM for prefill (any n): bf16 or fp16 operands (F32 weights: float32), float32 accumulation and
/// output. Quantized weights are dequantized to bf16 into the context's weight scratch first; x is rounded to the
/// weights' 16-bit type into its activation scratch. Owns the cuBLASLt handle, a 32 MiB workspace and the
/// per-shape algorithm cache; create it (and warm_up the shapes a CUDA graph will replay) before any capture.
/// Not available in the emulated test build.
class GemmContext {
 public:
  /// max_tokens * max_cols bounds every call's activations; max_weight_elems the largest quantized weight that is
  /// multiplied here (0 if none).
  static Result<std::unique_ptr<GemmContext>> create(int64_t max_tokens, int64_t max_cols, int64_t max_weight_elems,
                                                     Stream stream);
  virtual ~GemmContext() = default;
  /// Picks (and caches) the algorithm for this weight's shape and type at n tokens with contiguous x and y, so a
  /// capture or the first prefill does not pay the heuristic query (host work only; nothing runs).
  virtual Status warm_up(const MatrixView& w, int64_t n) = 0;
  virtual Status gemm(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                      int64_t y_stride, Stream stream) = 0;
  /// Bytes of device memory it holds (workspace and scratch), for the memory planner.
  virtual size_t device_bytes() const = 0;
};

/// gemv when n <= kGemvMaxTokens, else ctx->gemm (ctx may be null only when n <= kGemvMaxTokens).
Status matmul(GemmContext* ctx, const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias,
              float* y, int64_t y_stride, Stream stream);

// ---------------------------------------------------------------------------------------------------------------
// Mixture of experts (Mixtral): route, gather per expert, expert MLPs, combine.

/// Device arrays of one routing (n tokens, k experts each, E experts), caller-allocated.
struct MoeRouting {
  int32_t* topk_expert = nullptr;     // [n, k]: token t's experts, by descending probability (ties: lower id)
  float* topk_weight = nullptr;       // [n, k]: their probabilities renormalized over the k
  int32_t* expert_offsets = nullptr;  // [E + 1]: expert e's assignments are [offsets[e], offsets[e + 1])
  int32_t* sorted_token = nullptr;    // [n * k]: token of each assignment, grouped by expert, tokens ascending
  int32_t* assignment_of = nullptr;   // [n * k]: position in the sorted order of token t's j-th expert (t * k + j)
};

/// softmax over each token's router logits ([n, n_experts], stride n_experts), the top k, renormalized (the CPU
/// decoder's moe()); then the assignments grouped per expert (a stable counting sort, no atomics).
Status moe_route(const float* router_logits, int64_t n, int32_t n_experts, int32_t k, const MoeRouting& routing,
                 Stream stream);

/// dst[i, :] = src[index[i], :] for i < n (the tokens of each expert made contiguous). Rows of `cols` floats.
Status gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t n, int64_t cols, float* dst,
                   int64_t dst_stride, Stream stream);

/// out[t, :] = sum over j < k, in ascending expert order, of topk_weight[t, j] * expert_out[assignment_of[t*k+j], :]
/// (starting from 0: the CPU decoder's order). expert_out: [n * k, cols] in sorted order; out: [n, cols].
Status moe_combine(const float* expert_out, int64_t expert_stride, const MoeRouting& routing, int64_t n, int32_t k,
                   int64_t cols, float* out, int64_t out_stride, Stream stream);

/// Experts of one projection: expert e's weights at data[e] (a device array of device pointers), all the same
/// type and shape.
struct ExpertMatrices {
  DType type = DType::kF32;
  const uint8_t* const* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

/// Grouped GEMV over the routing, without a host round trip (decode, CUDA graphs): for every assignment i (sorted
/// order) of expert e, y[i, :] = W_e x_row, where x_row = x[sorted_token[i]] when gather_x, else x[i]. Each
/// expert's weights are read once per kGemvMaxTokens of its assignments (n_assignments = n * k, known on the host
/// as an upper bound; cheap for decode, use gather_rows + gemm per expert for prefill). Same per-token bits as gemv.
Status moe_gemv(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, int64_t n_assignments,
                const float* x, int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream);

// ---------------------------------------------------------------------------------------------------------------
// LoRA (punica's BGMV, as kernels/lora_ops.h): each token adds its own adapter's delta, so one launch serves a
// batch that mixes adapters and base-model tokens.

/// The largest adapter rank lora_bgmv takes (vLLM's largest --max-lora-rank).
inline constexpr int64_t kLoraMaxRank = 512;

/// y[t, :out] += b_s · (a_s · x[t]) for each token t < n whose slot s = slot_of_token[t] >= 0 has rank > 0, as
/// ref::lora_bgmv. slots: device array of the step's LoraPair (their a/b device pointers, f32 row-major a [rank,
/// in], b [out, rank], scaling folded into b, rank <= kLoraMaxRank); slot_of_token: device [n]. x rows at
/// x_stride, y rows at y_stride (y may be a column slice of a fused q|k|v or gate|up buffer); y must not overlap
/// x. One block per token: a token's bits depend only on its row and adapter (batch invariant), not on ref's
/// index-order sums (the shrink is a warp reduction).
Status lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t x_stride, int64_t in,
                 float* y, int64_t y_stride, int64_t out, int64_t n, Stream stream);

}  // namespace podserve::kernels::cuda
