// Optimized CPU ops: dispatch to the AVX2 paths when the CPU has them, split work over the thread pool.
#include <vector>

#include "base/check.h"
#include "base/thread_pool.h"
#include "kernels/cpu/avx2_ops.h"
#include "kernels/ops.h"
#include "kernels/quant_dot.h"
#include "kernels/ref/dequant.h"

namespace podserve::kernels {

bool matmul_supports(DType type) {
  switch (type) {
    case DType::kF32: case DType::kF16: case DType::kBF16: case DType::kQ4_0: case DType::kQ4_1:
    case DType::kQ8_0: case DType::kQ4_K: case DType::kQ6_K:
      return true;
    case DType::kQ8_1:
      return false;
  }
  return false;
}

namespace cpu {
namespace {
bool is_int_dot_type(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ8_0; }

float dot_f32(const float* a, const float* b, int64_t n) {
  if (has_avx2()) return avx2::dot_f32(a, b, n);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
}  // namespace

bool has_avx2() {
  static const bool kHas = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           __builtin_cpu_supports("f16c");
  return kHas;
}

void matmul(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool) {
  PODSERVE_CHECK(w.cols % dtype_block_size(w.type) == 0);
  if (is_int_dot_type(w.type)) {
    // Quantize the activations once, then each thread takes a range of weight rows.
    const DType act = activation_type_for(w.type);
    const int64_t act_row_bytes = w.cols / 32 * dtype_block_bytes(act);
    static thread_local std::vector<uint8_t> act_buf;
    act_buf.resize(static_cast<size_t>(n * act_row_bytes));
    for (int64_t t = 0; t < n; ++t) quantize_activations(act, x + t * w.cols, act_buf.data() + t * act_row_bytes, w.cols);
    const uint8_t* acts = act_buf.data();
    const bool avx2 = has_avx2();
    pool->parallel_for(w.rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const uint8_t* row = w.row(r);
        for (int64_t t = 0; t < n; ++t) {
          const uint8_t* a = acts + t * act_row_bytes;
          y[t * w.rows + r] = avx2 ? quant_dot_avx2(w.type, row, a, w.cols) : quant_dot_scalar(w.type, row, a, w.cols);
        }
      }
    });
    return;
  }
  // Other formats: dequantize each weight row once, then dot it with every token.
  pool->parallel_for(w.rows, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = begin; r < end; ++r) {
      dequantize_row_ref(w.type, w.row(r), row.data(), w.cols);
      for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot_f32(row.data(), x + t * w.cols, w.cols);
    }
  });
}

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out) {
  if (has_avx2() && head_dim % 8 == 0) {
    avx2::attention_head(q, kv, n_ctx, head_dim, scale, out);
  } else {
    ref::attention_head(q, kv, n_ctx, head_dim, scale, out);
  }
}

}  // namespace cpu
}  // namespace podserve::kernels
