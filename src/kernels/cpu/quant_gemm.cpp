// Portable parts of the quantized GEMM: activation quantization (scalar) and the scalar tile loop used when
// the CPU lacks AVX2. Same integer math as the SIMD builds, so all paths give the same per-block integers.
#include "kernels/cpu/quant_gemm.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/fp16.h"
#include "kernels/cpu/half_load.h"

namespace podserve::kernels::gemm {
namespace {
float round_half(float f) { return fp16_to_float(float_to_fp16(f)); }
}  // namespace

bool supports(DType weight_type) {
  return weight_type == DType::kQ4_0 || weight_type == DType::kQ4_1 || weight_type == DType::kQ5_0 ||
         weight_type == DType::kQ5_1 || weight_type == DType::kQ8_0;
}

void quantize_acts_scalar(const float* x, int64_t n, int64_t cols, ActBlock* out) {
  PODSERVE_CHECK(cols % 32 == 0);
  for (int64_t i = 0; i < n * cols / 32; ++i) {
    const float* xb = x + i * 32;
    ActBlock& a = out[i];
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    // ggml's float steps (d = amax / 127, id = 127 / amax, round half to even) so activations match it.
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      a.qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
      sum += a.qs[j];
    }
    for (int l = 0; l < 8; ++l) a.lane_sum[l] = a.qs[4 * l] + a.qs[4 * l + 1] + a.qs[4 * l + 2] + a.qs[4 * l + 3];
    a.d = round_half(d);
    a.s = round_half(static_cast<float>(sum) * d);
  }
}

// Same float steps as the SIMD paths (see quant_gemm_impl.inc), so every path gives identical outputs.
void gemm_rows_scalar(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  const int64_t blocks = w.cols / 32;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < n; ++t) {
      const ActBlock* a = acts + t * blocks;
      float sum = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        int sumi = 0;
        switch (w.type) {
          case DType::kQ8_0: {
            const auto* q = reinterpret_cast<const int8_t*>(row + b * 34 + 2);
            for (int j = 0; j < 32; ++j) sumi += q[j] * a[b].qs[j];
            sum = std::fma(static_cast<float>(sumi), half_at(row + b * 34) * a[b].d, sum);
            break;
          }
          case DType::kQ4_0: {
            const uint8_t* q = row + b * 18 + 2;
            for (int j = 0; j < 16; ++j) sumi += ((q[j] & 0x0f) - 8) * a[b].qs[j] + ((q[j] >> 4) - 8) * a[b].qs[j + 16];
            sum = std::fma(static_cast<float>(sumi), half_at(row + b * 18) * a[b].d, sum);
            break;
          }
          case DType::kQ4_1: {
            const uint8_t* q = row + b * 20 + 4;
            for (int j = 0; j < 16; ++j) sumi += (q[j] & 0x0f) * a[b].qs[j] + (q[j] >> 4) * a[b].qs[j + 16];
            sum = std::fma(static_cast<float>(sumi), half_at(row + b * 20) * a[b].d, sum);
            sum = std::fma(half_at(row + b * 20 + 2), a[b].s, sum);
            break;
          }
          case DType::kQ5_0:
          case DType::kQ5_1: {  // Q5_0: d, qh[4], qs[16], q - 16; Q5_1: d, m, qh[4], qs[16], q * d + m
            const bool q5_1 = w.type == DType::kQ5_1;
            const uint8_t* block = row + b * (q5_1 ? 24 : 22);
            uint32_t qh;
            std::memcpy(&qh, block + (q5_1 ? 4 : 2), 4);
            const uint8_t* q = block + (q5_1 ? 8 : 6);
            const int bias = q5_1 ? 0 : 16;
            for (int j = 0; j < 16; ++j) {
              const int lo = (q[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
              const int hi = (q[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
              sumi += (lo - bias) * a[b].qs[j] + (hi - bias) * a[b].qs[j + 16];
            }
            sum = std::fma(static_cast<float>(sumi), half_at(block) * a[b].d, sum);
            if (q5_1) sum = std::fma(half_at(block + 2), a[b].s, sum);
            break;
          }
          default:
            PODSERVE_CHECK(false) << "quant gemm: unsupported weight type " << dtype_name(w.type);
        }
      }
      y[t * w.rows + r] = sum;
    }
  }
}

}  // namespace podserve::kernels::gemm
