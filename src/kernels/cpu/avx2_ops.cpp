#include "kernels/cpu/avx2_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace podserve::kernels::avx2 {
namespace {
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline __m256 load_half8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// exp(x) for x in float range: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial (Cephes expf
// coefficients), 2^k built in the exponent bits. Inputs are clamped so the result saturates to 0 or inf-free max.
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 sig = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(sig, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float sum = hsum(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Rounds q and the softmax weights to fp16 before the dot products, as ggml's f16 K/V matmuls do, so greedy
// outputs track llama.cpp's closely.
void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out) {
  static thread_local std::vector<float> scores;
  static thread_local std::vector<float> q16;
  scores.resize(static_cast<size_t>(n_ctx));
  q16.resize(static_cast<size_t>(head_dim));
  for (int64_t d = 0; d < head_dim; d += 8) {
    _mm256_storeu_ps(q16.data() + d, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + d), _MM_FROUND_TO_NEAREST_INT)));
  }
  static thread_local std::vector<int64_t> rows;
  rows.resize(static_cast<size_t>(n_ctx));
  for (int64_t p = 0; p < n_ctx; ++p) rows[p] = kv.row(p) * kv.stride;
  float max = -INFINITY;
  if (head_dim <= 128) {
    // q stays in registers across positions (head_dim / 8 <= 16 vectors).
    __m256 qv[16];
    const int64_t chunks = head_dim / 8;
    for (int64_t c = 0; c < chunks; ++c) qv[c] = _mm256_loadu_ps(q16.data() + 8 * c);
    for (int64_t p = 0; p < n_ctx; ++p) {
      const uint16_t* k = kv.k + rows[p];
      __m256 acc = _mm256_setzero_ps();
      for (int64_t c = 0; c < chunks; ++c) acc = _mm256_fmadd_ps(qv[c], load_half8(k + 8 * c), acc);
      scores[p] = hsum(acc) * scale;
      max = std::fmax(max, scores[p]);
    }
  } else {
    for (int64_t p = 0; p < n_ctx; ++p) {
      const uint16_t* k = kv.k + rows[p];
      __m256 acc = _mm256_setzero_ps();
      for (int64_t d = 0; d < head_dim; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q16.data() + d), load_half8(k + d), acc);
      scores[p] = hsum(acc) * scale;
      max = std::fmax(max, scores[p]);
    }
  }
  float sum = 0.0f;
  for (int64_t p = 0; p < n_ctx; ++p) {
    scores[p] = std::exp(scores[p] - max);
    sum += scores[p];
  }
  const float inv = 1.0f / sum;
  for (int64_t p = 0; p < n_ctx; ++p) scores[p] = _cvtsh_ss(_cvtss_sh(scores[p] * inv, _MM_FROUND_TO_NEAREST_INT));
  // Each V row is read once: positions outer, the head's dims in up to 16 accumulators (same per-lane
  // summation order as a dims-outer loop, so the same bits).
  for (int64_t d0 = 0; d0 < head_dim; d0 += 128) {
    const int64_t chunks = std::min<int64_t>(16, (head_dim - d0) / 8);
    __m256 acc[16];
    for (int64_t c = 0; c < chunks; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t p = 0; p < n_ctx; ++p) {
      const __m256 w = _mm256_set1_ps(scores[p]);
      const uint16_t* v = kv.v + rows[p] + d0;
      for (int64_t c = 0; c < chunks; ++c) acc[c] = _mm256_fmadd_ps(w, load_half8(v + 8 * c), acc[c]);
    }
    for (int64_t c = 0; c < chunks; ++c) _mm256_storeu_ps(out + d0 + 8 * c, acc[c]);
  }
}

}  // namespace podserve::kernels::avx2
