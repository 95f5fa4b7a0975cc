// The decode GEMV's kernels and launchers (device_ops.h gemv, moe_gemv; <= kGemvMaxTokens tokens), instantiated per
// weight format by gemv_float.cu, gemv_block.cu and gemv_kquant.cu (three files, so the fat binary's compile runs in
// parallel); gemv.cu checks shapes and dispatches on the type. A CTA of 128 threads owns kRows weight
// rows (4 for float formats, 2 for quantized ones) and splits their columns into chunks, chunk c to thread
// c % 128: each thread loads its chunks' raw bytes for all the rows (independent 16-byte loads where the format
// allows), decodes them in registers and dots them with every token's x (read through L1). The partial sums are
// reduced by a warp butterfly, then across the 4 warps in order. Every step is an explicit fma or add whose order
// depends on the shape only, never on the token count, so a token gets the same bits in any batch of <= 8.
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"
#include "kernels/cuda/gemv_formats.cuh"

namespace podserve::kernels::cuda::gemv_impl {

constexpr unsigned kThreads = 128;
constexpr int kWarps = kThreads / 32;

// Where a launch's token rows are: token i of the CTA's batch reads x_rows[i] and writes y_rows[i].
template <int kTokens>
struct TokenRows {
  const float* x[kTokens];
  float* y[kTokens];
  int n = 0;  // valid rows (<= kTokens)
};

// y_rows[t][r0 + r] = w[r0 + r] . x_rows[t] (+ bias) for the CTA's rows; every thread of the block calls it.
template <typename Fmt, int kTokens>
SIMT_DEVICE void gemv_rows(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols, bool w_vec, bool x_vec,
                           int64_t r0, const TokenRows<kTokens>& tok, const float* bias) {
  constexpr int R = Fmt::kRows, E = Fmt::kElems;
  static_assert(R * kTokens <= static_cast<int>(kThreads), "one thread per output in the epilogue");
  const int64_t chunks = (cols + E - 1) / E;
  float acc[R][kTokens];
  SIMT_UNROLL
  for (int r = 0; r < R; ++r) {
    SIMT_UNROLL
    for (int t = 0; t < kTokens; ++t) acc[r][t] = 0.0f;
  }
  for (int64_t c = threadIdx.x; c < chunks; c += kThreads) {
    const int valid = cols - c * E < E ? static_cast<int>(cols - c * E) : E;  // < E only in a float row's tail
    typename Fmt::Raw raw[R];
    SIMT_UNROLL
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r < rows ? r0 + r : rows - 1;  // past the last row: a duplicate, not stored
      raw[r] = Fmt::load(w + static_cast<size_t>(row) * row_bytes, c, w_vec, valid);
    }
    float sq[R][kTokens], sx[kTokens];
    SIMT_UNROLL
    for (int t = 0; t < kTokens; ++t) {
      sx[t] = 0.0f;
      SIMT_UNROLL
      for (int r = 0; r < R; ++r) sq[r][t] = 0.0f;
    }
    SIMT_UNROLL
    for (int s = 0; s < E / 8; ++s) {
      float q[R][8];
      SIMT_UNROLL
      for (int r = 0; r < R; ++r) Fmt::decode(raw[r], c, s, q[r]);
      const int64_t col = c * E + 8 * s;
      SIMT_UNROLL
      for (int t = 0; t < kTokens; ++t) {
        if (t >= tok.n) break;
        float x8[8];
        if (x_vec && valid == E) {
          simt::load_f32x4(tok.x[t] + col, x8);
          simt::load_f32x4(tok.x[t] + col + 4, x8 + 4);
        } else {
          SIMT_UNROLL
          for (int i = 0; i < 8; ++i) x8[i] = 8 * s + i < valid ? tok.x[t][col + i] : 0.0f;
        }
        SIMT_UNROLL
        for (int i = 0; i < 8; ++i) {
          SIMT_UNROLL
          for (int r = 0; r < R; ++r) sq[r][t] = fmaf(q[r][i], x8[i], sq[r][t]);
          if constexpr (Fmt::kOffset) sx[t] += x8[i];
        }
      }
    }
    float a[R], b[R];
    SIMT_UNROLL
    for (int r = 0; r < R; ++r) Fmt::scales(raw[r], c, a[r], b[r]);
    SIMT_UNROLL
    for (int r = 0; r < R; ++r) {
      SIMT_UNROLL
      for (int t = 0; t < kTokens; ++t) {
        acc[r][t] = fmaf(a[r], sq[r][t], acc[r][t]);
        if constexpr (Fmt::kOffset) acc[r][t] = fmaf(b[r], sx[t], acc[r][t]);
      }
    }
  }
  // Reduce: warp butterflies, then the 4 warps' partials summed in warp order.
  __shared__ float partial[kWarps][R * kTokens];
  float flat[R * kTokens];
  SIMT_UNROLL
  for (int r = 0; r < R; ++r) {
    SIMT_UNROLL
    for (int t = 0; t < kTokens; ++t) flat[r * kTokens + t] = acc[r][t];
  }
  simt::warp_sum_n(flat);
  const int warp = static_cast<int>(threadIdx.x / 32);
  if (threadIdx.x % 32 == 0) {
    SIMT_UNROLL
    for (int i = 0; i < R * kTokens; ++i) partial[warp][i] = flat[i];
  }
  __syncthreads();
  // Thread i stores value i = r * kTokens + t (compile-time indices keep the row pointers in registers).
  SIMT_UNROLL
  for (int r = 0; r < R; ++r) {
    SIMT_UNROLL
    for (int t = 0; t < kTokens; ++t) {
      const int i = r * kTokens + t;
      if (static_cast<int>(threadIdx.x) != i || t >= tok.n || r0 + r >= rows) continue;
      float v = partial[0][i];
      for (int k = 1; k < kWarps; ++k) v += partial[k][i];
      if (bias != nullptr) v += bias[r0 + r];
      tok.y[t][r0 + r] = v;
    }
  }
  __syncthreads();  // `partial` is reused when the caller loops
}

template <typename Fmt, int kTokens>
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols, bool w_vec, bool x_vec,
                const float* x, int64_t x_stride, int64_t n, const float* bias, float* y, int64_t y_stride) {
  TokenRows<kTokens> tok;
  tok.n = static_cast<int>(n);
  SIMT_UNROLL
  for (int t = 0; t < kTokens; ++t) {
    tok.x[t] = x + (t < n ? t : 0) * x_stride;
    tok.y[t] = y + (t < n ? t : 0) * y_stride;
  }
  gemv_rows<Fmt, kTokens>(w, row_bytes, rows, cols, w_vec, x_vec, static_cast<int64_t>(blockIdx.x) * Fmt::kRows, tok,
                          bias);
}

// Grouped over experts: CTA (row block, expert e) runs its rows over e's assignments, kGemvMaxTokens at a time.
template <typename Fmt>
__global__ void __launch_bounds__(kThreads)
    moe_gemv_kernel(const uint8_t* const* experts, size_t row_bytes, int64_t rows, int64_t cols, bool w_vec,
                    bool x_vec, const int32_t* offsets, const int32_t* sorted_token, const float* x, int64_t x_stride,
                    bool gather_x, float* y, int64_t y_stride) {
  constexpr int kTokens = static_cast<int>(kGemvMaxTokens);
  const int e = static_cast<int>(blockIdx.y);
  const int32_t begin = offsets[e], end = offsets[e + 1];
  for (int32_t i0 = begin; i0 < end; i0 += kTokens) {
    TokenRows<kTokens> tok;
    tok.n = end - i0 < kTokens ? end - i0 : kTokens;
    SIMT_UNROLL
    for (int t = 0; t < kTokens; ++t) {
      const int32_t i = i0 + (t < tok.n ? t : 0);
      tok.x[t] = x + static_cast<int64_t>(gather_x ? sorted_token[i] : i) * x_stride;
      tok.y[t] = y + static_cast<int64_t>(i) * y_stride;
    }
    gemv_rows<Fmt, kTokens>(experts[e], row_bytes, rows, cols, w_vec, x_vec, static_cast<int64_t>(blockIdx.x) * Fmt::kRows,
                            tok, nullptr);
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename Fmt>
Status launch_gemv(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                   int64_t y_stride, Stream stream) {
  const bool w_vec = aligned16(w.data) && w.row_bytes() % 16 == 0;
  const bool x_vec = aligned16(x) && x_stride % 4 == 0;
  const dim3 grid(simt::blocks_for(w.rows, Fmt::kRows));
  const size_t rb = w.row_bytes();
  // Token counts 1, <= 4 and <= 8 (each output's arithmetic is the same in all three).
  if (n <= 1) return simt::launch("gemv", gemv_kernel<Fmt, 1>, grid, dim3(kThreads), 0, stream, w.data, rb, w.rows, w.cols, w_vec, x_vec, x, x_stride, n, bias, y, y_stride);
  if (n <= 4) return simt::launch("gemv", gemv_kernel<Fmt, 4>, grid, dim3(kThreads), 0, stream, w.data, rb, w.rows, w.cols, w_vec, x_vec, x, x_stride, n, bias, y, y_stride);
  return simt::launch("gemv", gemv_kernel<Fmt, 8>, grid, dim3(kThreads), 0, stream, w.data, rb, w.rows, w.cols, w_vec, x_vec, x, x_stride, n, bias, y, y_stride);
}

template <typename Fmt>
Status launch_moe_gemv(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                       int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  const size_t rb = dtype_row_bytes(w.type, w.cols);
  const bool w_vec = rb % 16 == 0;  // expert pointers are cudaMalloc'd (256-byte aligned)
  const bool x_vec = aligned16(x) && x_stride % 4 == 0;
  return simt::launch("moe_gemv", moe_gemv_kernel<Fmt>,
                      dim3(simt::blocks_for(w.rows, Fmt::kRows), static_cast<unsigned>(n_experts)), dim3(kThreads), 0,
                      stream, w.data, rb, w.rows, w.cols, w_vec, x_vec, routing.expert_offsets, routing.sorted_token, x,
                      x_stride, gather_x, y, y_stride);
}

// The launchers of one file's formats: the launch for w.type among Fmts (each type once; an internal error for any
// other type: gemv.cu sends each type to its group).
template <typename... Fmts>
struct FormatGroup {
  static Status gemv(const char* group, const MatrixView& w, const float* x, int64_t x_stride, int64_t n,
                     const float* bias, float* y, int64_t y_stride, Stream stream) {
    Status st = not_in_group(group, w.type);
    ((w.type == Fmts::kType ? void(st = launch_gemv<Fmts>(w, x, x_stride, n, bias, y, y_stride, stream)) : void()),
     ...);
    return st;
  }
  static Status moe_gemv(const char* group, const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts,
                         const float* x, int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
    Status st = not_in_group(group, w.type);
    ((w.type == Fmts::kType
          ? void(st = launch_moe_gemv<Fmts>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream))
          : void()),
     ...);
    return st;
  }
  static Status not_in_group(const char* group, DType type) {
    return internal_error(std::string(group) + ": weight type " + dtype_name(type) + " is not in this group");
  }
};

}  // namespace podserve::kernels::cuda::gemv_impl

namespace podserve::kernels::cuda {

// One launcher per group of formats (each defined in its own file).
#define PODSERVE_GEMV_GROUP(group)                                                                                  \
  Status gemv_##group(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y, \
                      int64_t y_stride, Stream stream);                                                             \
  Status moe_gemv_##group(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,      \
                          int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream);
PODSERVE_GEMV_GROUP(float)
PODSERVE_GEMV_GROUP(block)
PODSERVE_GEMV_GROUP(kquant)
#undef PODSERVE_GEMV_GROUP

}  // namespace podserve::kernels::cuda
