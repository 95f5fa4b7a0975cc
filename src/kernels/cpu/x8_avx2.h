// Loads shared by the AVX2 kernels over 8-row packed weights (quant_gemm_x8_avx2.cpp, quant_gemm_k_x8_avx2.cpp;
// layouts in packed_weights.h). Include only from files compiled with -mavx2 -mfma -mf16c.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace podserve::kernels::x8_avx2 {

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
// 4 bytes (e.g. 4 activation quants) broadcast to every int32 lane.
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
// 8 fp16 values (the 8 rows' scales) as floats.
inline __m256 halves(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// 0x10 in byte i of lane j where bit i (lo) or 4 + i (hi) of qh8[j] is set: Q5_x / Q5_K's fifth bits for one
// 32-byte quant vector (rows as lanes), or'ed onto its nibbles.
inline void fifth_bits(const uint8_t* qh8, __m256i* lo, __m256i* hi) {
  int64_t v;
  std::memcpy(&v, qh8, 8);
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,  //
                                          4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi64x(v), spread);
  const __m256i mask_lo = _mm256_set1_epi32(0x08040201), mask_hi = _mm256_set1_epi32(static_cast<int>(0x80402010u));
  const __m256i bit = _mm256_set1_epi8(0x10);
  *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask_lo), mask_lo), bit));
  *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask_hi), mask_hi), bit));
}

// T tokens' accumulators (acc[t] lane j = row 8g + j) into y (token-major, `rows` floats per token) at tokens
// t0.. and rows r0..r1 of group g (a thread's row range may cut a group).
template <int T>
inline void store_group(const __m256* acc, int64_t g, int64_t r0, int64_t r1, int64_t t0, int64_t rows, float* y) {
  for (int t = 0; t < T; ++t) {
    float* yt = y + (t0 + t) * rows;
    if (r0 == 8 * g && r1 == 8 * g + 8) {
      _mm256_storeu_ps(yt + r0, acc[t]);
    } else {
      alignas(32) float out[8];
      _mm256_store_ps(out, acc[t]);
      for (int64_t r = r0; r < r1; ++r) yt[r] = out[r - 8 * g];
    }
  }
}

}  // namespace podserve::kernels::x8_avx2
