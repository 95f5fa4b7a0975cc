// Float-weight GEMM (F32, F16, BF16 weights times f32 activations), the engine of cpu::matmul for these types.
//
// The bit contract: every output y[t, r] is one fixed sequence of float operations, whatever the path (scalar,
// AVX2, AVX-512), the batch size or the thread split: element k goes into lane k % 16 with an fma (the last
// partial chunk is zero-padded), then the 16 lanes are summed as a tree (l + 8, then l + 4, l + 2, l + 1). F16 and
// BF16 convert to f32 exactly, so converting a weight panel once (prefill) or on the fly (decode) gives the same
// bits. So a token's logits do not depend on its batch, as the engine promises.
#pragma once

#include <cstdint>

#include "base/dtype.h"
#include "base/thread_pool.h"
#include "kernels/ops.h"

namespace podserve::kernels::gemm {

bool supports_float(DType weight_type);  // F32, F16, BF16

/// y[t, r] for r in [row_begin, row_end), all t < n; x is [n, w.cols], y is [n, w.rows]. Any row range.
/// Decode (n < 8): a few rows per pass over every token, weights converted in registers. Prefill: blocks of tokens
/// whose activations stay in L2, and per block panels of rows converted to f32 once and used for every token.
void float_rows_scalar(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y);
void float_rows_avx2(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y);
void float_rows_avx512(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y);
/// The best of the above that the active ISA (cpu/isa.h) allows.
void float_rows(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y);

/// The whole matmul, 16-row units split over the pool.
void matmul_float(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool);

}  // namespace podserve::kernels::gemm
