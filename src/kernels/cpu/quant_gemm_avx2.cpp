// AVX2 + FMA + F16C build of the quantized GEMM (vpmaddubsw dot products). Callers check cpu::has_avx2().
#define PODSERVE_GEMM_VNNI 0
#define PODSERVE_GEMM_ENTRY gemm_rows_avx2
#include "kernels/cpu/quant_gemm_impl.inc"

namespace podserve::kernels::gemm {

void quantize_acts_avx2(const float* x, int64_t n, int64_t cols, ActBlock* out) {
  PODSERVE_CHECK(cols % 32 == 0);
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n * cols / 32; ++i) {
    const float* xb = x + i * 32;
    ActBlock& a = out[i];
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(xb + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max_abs = _mm_cvtss_f32(m);
    const float d = max_abs / 127.0f;
    const __m256 id = _mm256_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // Lane sums of 4 consecutive elements: horizontal adds of the int32 values.
    const __m256i s01 = _mm256_hadd_epi32(q[0], q[1]);  // pairs, lanes interleaved per 128-bit half
    const __m256i s23 = _mm256_hadd_epi32(q[2], q[3]);
    __m256i sums = _mm256_hadd_epi32(s01, s23);  // [g0 g2 g4 g6 | g1 g3 g5 g7]
    sums = _mm256_permutevar8x32_epi32(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.lane_sum), sums);
    // Pack to int8 in element order.
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i bytes = _mm256_packs_epi16(p01, p23);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.qs), bytes);
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    t = _mm_hadd_epi32(t, t);
    t = _mm_hadd_epi32(t, t);
    const int sum = _mm_cvtsi128_si32(t);
    a.d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    a.s = _cvtsh_ss(_cvtss_sh(static_cast<float>(sum) * d, _MM_FROUND_TO_NEAREST_INT));
  }
}

}  // namespace podserve::kernels::gemm
