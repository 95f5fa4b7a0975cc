// AVX2 + FMA + F16C build of the K-quant GEMM (vpmaddubsw + vpmaddwd). Callers check cpu::has_avx2().
#define PODSERVE_GEMM_K_VNNI 0
#define PODSERVE_GEMM_K_ENTRY gemm_k_rows_avx2
#include "kernels/cpu/quant_gemm_k_impl.inc"

#include <cmath>
#include <cstring>

namespace podserve::kernels::gemm {

// quantize_acts_k's float steps on 8 lanes: the same products, the same round-half-even, so the same blocks.
void quantize_acts_k_avx2(const float* x, int64_t n, int64_t cols, KActBlock* out) {
  PODSERVE_CHECK(cols % 256 == 0);
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n * cols / 256; ++i) {
    const float* xb = x + i * 256;
    KActBlock& a = out[i];
    __m256 vmax = _mm256_setzero_ps();
    for (int k = 0; k < 32; ++k) vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(xb + 8 * k)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    if (amax == 0.0f) {
      std::memset(&a, 0, sizeof a);
      continue;
    }
    int first = 0;  // the first element of largest magnitude gives the sign, as the scalar loop (bounded: NaNs)
    while (first < 255 && std::fabs(xb[first]) != amax) ++first;
    const float iscale = -127.0f / xb[first];
    const __m256 vscale = _mm256_set1_ps(iscale);
    for (int k = 0; k < 8; ++k) {  // 32 elements: 4 x 8 int32 -> 32 int8, and the two 16-element sums
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + 32 * k + 8 * j), vscale);
        q[j] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)),
                                _mm256_set1_epi32(127));
      }
      const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.qs + 32 * k), bytes);
      const __m256i s0 = _mm256_add_epi32(q[0], q[1]), s1 = _mm256_add_epi32(q[2], q[3]);
      __m128i h0 = _mm_add_epi32(_mm256_castsi256_si128(s0), _mm256_extracti128_si256(s0, 1));
      __m128i h1 = _mm_add_epi32(_mm256_castsi256_si128(s1), _mm256_extracti128_si256(s1, 1));
      h0 = _mm_hadd_epi32(h0, h1);
      h0 = _mm_hadd_epi32(h0, h0);
      a.bsums[2 * k] = static_cast<int16_t>(_mm_cvtsi128_si32(h0));
      a.bsums[2 * k + 1] = static_cast<int16_t>(_mm_extract_epi32(h0, 1));
    }
    a.d = 1.0f / iscale;
  }
}

}  // namespace podserve::kernels::gemm
