// Float-weight GEMM: the portable path (the contract's exact float steps, scalar) and the dispatch.
#include "kernels/cpu/float_gemm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/ref/dequant.h"

namespace podserve::kernels::gemm {

bool supports_float(DType weight_type) {
  return weight_type == DType::kF32 || weight_type == DType::kF16 || weight_type == DType::kBF16;
}

namespace {
// float_gemm.h's fixed order: lane k % 16 by fma over the zero-padded row, then the 16 -> 8 -> 4 -> 2 -> 1 tree.
float dot16(const float* w, const float* x, int64_t cols) {
  float acc[16] = {};
  const int64_t padded = (cols + 15) / 16 * 16;
  for (int64_t k = 0; k < padded; ++k) {
    const float wk = k < cols ? w[k] : 0.0f, xk = k < cols ? x[k] : 0.0f;
    acc[k % 16] = std::fma(wk, xk, acc[k % 16]);
  }
  for (int width = 8; width >= 1; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] = acc[l] + acc[l + width];
  }
  return acc[0];
}
}  // namespace

void float_rows_scalar(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    dequantize_row_ref(w.type, w.row(r), row.data(), w.cols);  // exact for these types
    for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot16(row.data(), x + t * w.cols, w.cols);
  }
}

void float_rows(const MatrixView& w, const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  const cpu::Isa isa = cpu::active_isa();
  if (isa >= cpu::Isa::kAvx512) return float_rows_avx512(w, x, n, row_begin, row_end, y);
  if (isa >= cpu::Isa::kAvx2) return float_rows_avx2(w, x, n, row_begin, row_end, y);
  float_rows_scalar(w, x, n, row_begin, row_end, y);
}

void matmul_float(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool) {
  constexpr int64_t kUnit = 16;  // rows per work unit: whole passes of every path
  pool->parallel_for((w.rows + kUnit - 1) / kUnit, [&](int64_t begin, int64_t end) {
    float_rows(w, x, n, begin * kUnit, std::min(w.rows, end * kUnit), y);
  });
}

}  // namespace podserve::kernels::gemm
