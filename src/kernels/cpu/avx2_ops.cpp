#include "kernels/cpu/avx2_ops.h"

#include <immintrin.h>

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
}  // namespace

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
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = kv.k + rows[p];
    __m256 acc = _mm256_setzero_ps();
    for (int64_t d = 0; d < head_dim; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q16.data() + d), load_half8(k + d), acc);
    scores[p] = hsum(acc) * scale;
    max = std::fmax(max, scores[p]);
  }
  float sum = 0.0f;
  for (int64_t p = 0; p < n_ctx; ++p) {
    scores[p] = std::exp(scores[p] - max);
    sum += scores[p];
  }
  const float inv = 1.0f / sum;
  for (int64_t p = 0; p < n_ctx; ++p) scores[p] = _cvtsh_ss(_cvtss_sh(scores[p] * inv, _MM_FROUND_TO_NEAREST_INT));
  for (int64_t d = 0; d < head_dim; d += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t p = 0; p < n_ctx; ++p) acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[p]), load_half8(kv.v + rows[p] + d), acc);
    _mm256_storeu_ps(out + d, acc);
  }
}

}  // namespace podserve::kernels::avx2
