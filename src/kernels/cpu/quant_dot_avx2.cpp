// AVX2/FMA/F16C block dot products (this file alone is compiled with -mavx2 -mfma -mf16c; callers check
// cpu::has_avx2() first). Same math as quant_dot_scalar.
#include <immintrin.h>

#include <cstring>

#include "base/check.h"
#include "kernels/quant_dot.h"

namespace podserve::kernels {
namespace {

inline float half(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return _cvtsh_ss(v);
}

// 32 4-bit values (low nibbles first, then high nibbles) as unsigned bytes.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i lo = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
  return _mm256_set_m128i(hi, lo);
}

// Sum of u8 * s8 products over 32 lanes, as 8 int32 lanes converted to float.
inline __m256 dot_u8_s8(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// Sum of s8 * s8 products: move the sign of x onto y so maddubs sees |x| as unsigned.
inline __m256 dot_s8_s8(__m256i x, __m256i y) {
  return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

float quant_dot_avx2(DType weight_type, const uint8_t* w, const uint8_t* a, int64_t n) {
  const int64_t blocks = n / 32;
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;  // Q4_1's m * s terms
  switch (weight_type) {
    case DType::kQ8_0:
      for (int64_t b = 0; b < blocks; ++b, w += 34, a += 34) {
        const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
        const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w) * half(a)), dot_s8_s8(wq, aq), acc);
      }
      break;
    case DType::kQ4_0:
      for (int64_t b = 0; b < blocks; ++b, w += 18, a += 34) {
        const __m256i wq = _mm256_sub_epi8(unpack_nibbles(w + 2), _mm256_set1_epi8(8));
        const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w) * half(a)), dot_s8_s8(wq, aq), acc);
      }
      break;
    case DType::kQ4_1:
      for (int64_t b = 0; b < blocks; ++b, w += 20, a += 36) {
        const __m256i wq = unpack_nibbles(w + 4);
        const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 4));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w) * half(a)), dot_u8_s8(wq, aq), acc);
        offset += half(w + 2) * half(a + 2);
      }
      break;
    default:
      PODSERVE_CHECK(false) << "quant_dot_avx2: unsupported weight type " << dtype_name(weight_type);
  }
  return hsum(acc) + offset;
}

}  // namespace podserve::kernels
