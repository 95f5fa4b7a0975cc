// The op contract: every op the model uses, declared once with shapes and aliasing rules. `ref::` is the
// plain scalar ground truth (and slow fallback); `cpu::` is the optimized, threaded implementation that tests
// compare against `ref::` (tests/unit/kernels). A CUDA backend will implement the same contract.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"

namespace podserve {
class ThreadPool;
}

namespace podserve::kernels {

/// A weight matrix [rows, cols], row-major in `type` (rows = output features, cols = input features;
/// GGUF dims {cols, rows}). Each row holds cols / dtype_block_size(type) blocks.
struct MatrixView {
  DType type = DType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  /// The same matrix repacked for the CPU's SIMD path (cpu/packed_weights.h), or null; `data` stays valid.
  const uint8_t* packed = nullptr;
  size_t row_bytes() const {
    return static_cast<size_t>(cols / dtype_block_size(type) * dtype_block_bytes(type));
  }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
};

/// One sequence's K/V history in a paged pool (see engine/kv_cache/kv_layout.h): position p is row
/// block_table[p / block_size] * block_size + p % block_size of `k` and `v`, rows `stride` fp16 values apart.
/// The pointers point at the wanted head's slice of row 0. A contiguous history is block_table = {0} with
/// block_size >= n_ctx. Elements are fp16 bits (PagedKv) or float32 (PagedKvF32, DTYPE=float32).
template <typename T>
struct PagedKvOf {
  const T* k = nullptr;
  const T* v = nullptr;
  int64_t stride = 0;
  const int32_t* block_table = nullptr;
  int64_t block_size = 0;
  int64_t row(int64_t pos) const { return block_table[pos / block_size] * block_size + pos % block_size; }
};
using PagedKv = PagedKvOf<uint16_t>;
using PagedKvF32 = PagedKvOf<float>;

/// A block of attention queries that share one K/V head: the query heads of a GQA group (n_heads) for
/// n_tokens consecutive positions of one sequence. Token i sees positions [0, n_ctx0 + i) (causal: n_ctx0 is the
/// first token's position + 1). Head h of token i reads q + i * q_stride + h * head_dim and writes
/// out + i * out_stride + h * head_dim. q and out must not overlap.
struct AttentionBlock {
  const float* q = nullptr;
  int64_t q_stride = 0;
  float* out = nullptr;
  int64_t out_stride = 0;
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t n_ctx0 = 0;
};

/// Whether `matmul` supports weights of this type (cols must also be a multiple of the block size).
bool matmul_supports(DType type);

namespace ref {
// y[t, r] = sum_c w[r, c] * x[t, c] in float, from dequantized weights.  x: [n, cols], y: [n, rows]; no aliasing.
void matmul(const MatrixView& w, const float* x, float* y, int64_t n);
// y = x / sqrt(mean(x^2) + eps) * weight.  x, y: [dim]; y may alias x.
void rms_norm(const float* x, const float* weight, float* y, int64_t dim, float eps);
// In place on x: [n_heads, head_dim]. Rotates pairs (2i, 2i+1) of the first rot_dim dims by pos * theta^(-2i/rot_dim)
// (GGUF llama-arch convention: Q/K rows are stored permuted for this interleaved form).
void rope_interleaved(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos, float theta);
// out[i] = silu(gate[i]) * up[i].  out may alias gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// In place softmax over x: [n].
void softmax(float* x, int64_t n);
// One query head against the first n_ctx positions of a paged fp16 K/V history: softmax(q.k * scale) . v.
// q: [head_dim]; out: [head_dim].
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out);
// Every query of the block through attention_head (n_ctx = b.n_ctx0 + token index).
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale);
}  // namespace ref

namespace cpu {
/// True when the AVX2/FMA/F16C kernels run on this CPU (else the portable paths are used).
bool has_avx2();
/// True when the AVX-VNNI integer dot-product kernels run on this CPU (implies has_avx2()).
bool has_avx_vnni();
/// True when the AVX-512 + AVX512-VNNI kernels run on this CPU (implies has_avx_vnni()).
bool has_avx512();
// Same contract as ref::matmul. Quantized weights use 8-bit activations and integer dot products (as ggml),
// so results differ from ref:: by activation rounding (tests bound the error). Threads split the rows.
void matmul(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool);
// Same contract as ref::attention_head.
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out);
// Same contract as ref::attention_block, and each query gets cpu::attention_head's exact bits (so a token's
// output does not depend on the block it is in: batch invariance), but each K/V row is read and converted once
// per block instead of once per query. The model calls it once per (sequence, K/V head, run of up to ~16
// consecutive tokens) for prefill, and once per (sequence, K/V head) with n_tokens = 1 for batched decode;
// single-threaded, so split those calls over the pool.
void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale);
// Same contract and bits as ref::rms_norm.
void rms_norm(const float* x, const float* weight, float* y, int64_t dim, float eps);
// Same contract and bits as ref::rope_interleaved; the cos/sin table of the last (pos, theta, rot_dim) is kept
// per thread, so Q and K of one token (and every head) share one table.
void rope_interleaved(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos, float theta);
// Same contract as ref::silu_mul; AVX2 computes exp with a polynomial (within a few ulp of std::exp).
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
}  // namespace cpu

}  // namespace podserve::kernels
