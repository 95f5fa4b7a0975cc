// AVX-512 build of float_gemm_impl.inc: a 16-float chunk is one zmm; F16 converts with vcvtph2ps on zmm, tails
// use masked loads. (BF16 weights convert by a shift and use f32 fma: vdpbf16ps would round the activations to
// bf16 and break the bit contract with the other paths.)
#include <immintrin.h>

#include <algorithm>
#include <vector>
#include "kernels/cpu/float_gemm.h"

namespace podserve::kernels::gemm {
namespace {

using V16 = __m512;
inline V16 zero16() { return _mm512_setzero_ps(); }
inline V16 fma16(V16 w, V16 x, V16 acc) { return _mm512_fmadd_ps(w, x, acc); }
inline float reduce16(V16 v) {  // the same tree as the AVX2 and scalar paths
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline __mmask16 first(int64_t count) { return static_cast<__mmask16>((1u << count) - 1u); }
inline V16 load16(const float* p) { return _mm512_loadu_ps(p); }
inline V16 bf16x16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
inline V16 load16_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline V16 load16_bf16(const uint16_t* p) { return bf16x16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline V16 load16_tail(const float* p, int64_t count) { return _mm512_maskz_loadu_ps(first(count), p); }
inline V16 load16_f16_tail(const uint16_t* p, int64_t count) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first(count), p)); }
inline V16 load16_bf16_tail(const uint16_t* p, int64_t count) { return bf16x16(_mm256_maskz_loadu_epi16(first(count), p)); }
inline void store16(float* p, V16 v) { _mm512_storeu_ps(p, v); }

// 4 rows x 6 tokens = 24 zmm accumulators, 4 weight chunks and one activation chunk.
constexpr int kRows = 4;
constexpr int kTokens = 6;
constexpr int kPanelRows = kRows;
#define FLOAT_ROWS_NAME float_rows_avx512
#include "kernels/cpu/float_gemm_impl.inc"
#undef FLOAT_ROWS_NAME

namespace {
void panel_tokens(const uint8_t* w0, int64_t w_stride, const float* x, int64_t cols, int64_t count, float* y,
                  int64_t y_stride) {
  rows_tokens<Src::kF32, kPanelRows>(w0, w_stride, x, cols, count, y, y_stride);
}
}  // namespace

}  // namespace podserve::kernels::gemm
