// AVX2/FMA/F16C build of float_gemm_impl.inc: a 16-float chunk is two ymm (lanes 0-7, 8-15).
#include <immintrin.h>

#include <algorithm>
#include <vector>
#include <cstring>

#include "kernels/cpu/float_gemm.h"

namespace podserve::kernels::gemm {
namespace {

struct V16 {
  __m256 lo, hi;
};
inline V16 zero16() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
inline V16 fma16(V16 w, V16 x, V16 acc) { return {_mm256_fmadd_ps(w.lo, x.lo, acc.lo), _mm256_fmadd_ps(w.hi, x.hi, acc.hi)}; }
inline float reduce16(V16 v) {
  const __m256 s8 = _mm256_add_ps(v.lo, v.hi);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline V16 load16(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
inline __m256 bf16x8(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
inline V16 load16_f16(const uint16_t* p) {
  return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)))};
}
inline V16 load16_bf16(const uint16_t* p) {
  return {bf16x8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
          bf16x8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)))};
}
// Tails go through a zeroed stack copy (once per row and token per matmul, off the hot loop).
inline V16 load16_tail(const float* p, int64_t count) {
  alignas(32) float buf[16] = {};
  std::memcpy(buf, p, static_cast<size_t>(count) * sizeof(float));
  return load16(buf);
}
inline V16 load16_f16_tail(const uint16_t* p, int64_t count) {
  alignas(32) uint16_t buf[16] = {};
  std::memcpy(buf, p, static_cast<size_t>(count) * 2);
  return load16_f16(buf);
}
inline V16 load16_bf16_tail(const uint16_t* p, int64_t count) {
  alignas(32) uint16_t buf[16] = {};
  std::memcpy(buf, p, static_cast<size_t>(count) * 2);
  return load16_bf16(buf);
}
inline void store16(float* p, V16 v) {
  _mm256_storeu_ps(p, v.lo);
  _mm256_storeu_ps(p + 8, v.hi);
}

// 2 rows x 3 tokens = 12 ymm accumulators, plus weights and one activation chunk.
constexpr int kRows = 2;
constexpr int kTokens = 3;
constexpr int kPanelRows = 4;
#define FLOAT_ROWS_NAME float_rows_avx2
#include "kernels/cpu/float_gemm_impl.inc"
#undef FLOAT_ROWS_NAME

namespace {
// Prefill panels, one 8-lane half of every 16-float chunk at a time: lanes 0-7 of 4 rows x 3 tokens in 12 ymm
// accumulators, then lanes 8-15 in the same registers (each lane sums the same elements in the same order as
// V16's), then the tree of reduce16. Per chunk half: 7 loads for 12 fma, where a 2 x 3 tile of V16 needs 10.
template <int T>
void half_lane_tile(const float* w0, int64_t w_stride, const float* x, int64_t cols, float* y, int64_t y_stride) {
  __m256 lo[kPanelRows][T], acc[kPanelRows][T];
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < kPanelRows; ++i) {
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
    }
    for (int64_t k = 8 * half; k < cols; k += 16) {
      __m256 xv[T];
      for (int j = 0; j < T; ++j) xv[j] = _mm256_loadu_ps(x + j * cols + k);
      for (int i = 0; i < kPanelRows; ++i) {
        const __m256 wv = _mm256_loadu_ps(w0 + i * w_stride + k);
        for (int j = 0; j < T; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
    if (half == 0) {
      for (int i = 0; i < kPanelRows; ++i) {
        for (int j = 0; j < T; ++j) lo[i][j] = acc[i][j];
      }
    }
  }
  for (int i = 0; i < kPanelRows; ++i) {
    for (int j = 0; j < T; ++j) y[j * y_stride + i] = reduce16(V16{lo[i][j], acc[i][j]});
  }
}

void panel_tokens(const uint8_t* w0, int64_t w_stride, const float* x, int64_t cols, int64_t count, float* y,
                  int64_t y_stride) {
  if (cols % 16 != 0) {  // the half-lane loop has no tail chunk: the zero-filled tail of rows_tokens
    rows_tokens<Src::kF32, kPanelRows>(w0, w_stride, x, cols, count, y, y_stride);
    return;
  }
  const auto* w = reinterpret_cast<const float*>(w0);
  const int64_t stride = w_stride / 4;
  int64_t t = 0;
  for (; t + 3 <= count; t += 3) half_lane_tile<3>(w, stride, x + t * cols, cols, y + t * y_stride, y_stride);
  for (; t < count; ++t) half_lane_tile<1>(w, stride, x + t * cols, cols, y + t * y_stride, y_stride);
}
}  // namespace

}  // namespace podserve::kernels::gemm
