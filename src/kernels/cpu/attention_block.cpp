// Attention for a block of queries that share one K/V head (the query heads of a GQA group, for several
// consecutive positions of one sequence), compiled with AVX2/FMA/F16C. Each K and V row is read and converted
// once per block instead of once per query, and every query gets the same float steps whatever block it is in
// (avx2::attention_head is a block of one), so a token's output does not depend on its batch:
//  - scores: 8 K rows are converted and transposed to kt[dim][position], so one float lane is one position and
//    accumulator c sums dims c, c + 8, ... of q.k; the 8 accumulators are added in a fixed tree. A block of at
//    most 4 queries (decode) skips the transpose and runs the same float steps per position (direct_tile_scores);
//  - softmax: vector max, exp (avx2_exp.h) and 8-lane sum; the weights are rounded to fp16 as ggml's f16 V
//    matmul does (and q is rounded to fp16 as its f16 K matmul does), so greedy outputs track llama.cpp;
//  - values: V tiles are converted to float once; each output lane is an fma over positions in order.
// Options (model_ops.h): the scale, a soft-cap (scores -> cap * tanh(score / cap), vector tanh from exp8), and a
// sliding window (a query's lanes before its first visible position get weight 0; tiles wholly before every
// query's window are skipped). Float32 K/V (HF float32 models) round nothing: q and the weights stay float.
// (A 16-lane AVX-512 build of the same steps measured no faster on Sapphire Rapids, so there is none.)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/cpu/avx2_exp.h"
#include "kernels/cpu/avx2_ops.h"

namespace podserve::kernels::avx2 {
namespace {

constexpr int64_t kLanes = 8;                      // positions per K tile (one per float lane)
constexpr int64_t kVTile = 32;                     // V rows converted per pass over the queries
constexpr int64_t kScoreBudget = int64_t{1} << 18;  // floats of scores kept per sub-block of tokens (1 MiB)

inline __m256 load_half8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load8(const uint16_t* p) { return load_half8(p); }
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 round_half8(__m256 v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }

// Thin wrappers keep the score and softmax code width-neutral (a 16-lane AVX-512 build of it measured no faster).
using Vec = __m256;
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vset1(float x) { return _mm256_set1_ps(x); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vexp(Vec x) { return exp8(x); }
inline Vec vround_half(Vec v) { return round_half8(v); }
inline Vec vkeep(Vec v, int64_t count, Vec other) {
  const __m256 keep = _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  return _mm256_blendv_ps(other, v, keep);
}
// Lanes [from, 8) of v, the others from `other`.
inline Vec vkeep_from(Vec v, int64_t from, Vec other) {
  const __m256 keep = _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(from) - 1)));
  return _mm256_blendv_ps(other, v, keep);
}
// cap * tanh(s / cap), tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) (no overflow, ~1e-7 absolute).
inline Vec vsoftcap(Vec s, Vec cap) {
  const __m256 x = _mm256_div_ps(s, cap);
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 e = exp8(_mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  return _mm256_mul_ps(_mm256_or_ps(t, sign), cap);
}
inline __m256 add_to8(__m256 sum8, Vec v) { return _mm256_add_ps(sum8, v); }
inline float vmax_all(Vec v) {
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  return _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
}

// r[i] = row i of an 8x8 matrix -> r[i] = column i.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// K rows p0 .. p0 + count - 1 (count <= kLanes; missing rows are zero) as kt[d * kLanes + position].
template <typename T>
void load_k_tile(const PagedKvOf<T>& kv, int64_t p0, int64_t count, int64_t head_dim, float* kt) {
  for (int64_t half = 0; half < kLanes / 8; ++half) {
    const T* rows[8];
    for (int64_t j = 0; j < 8; ++j) rows[j] = 8 * half + j < count ? kv.k + kv.row(p0 + 8 * half + j) * kv.stride : nullptr;
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = rows[j] != nullptr ? load8(rows[j] + d0) : _mm256_setzero_ps();
      transpose8(r);
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(kt + (d0 + c) * kLanes + 8 * half, r[c]);
    }
  }
}

// Scores of one query (q16: fp16-rounded q) against the kLanes positions of kt.
inline Vec tile_scores(const float* q16, const float* kt, int64_t head_dim, Vec scale) {
  Vec acc[8];
  for (auto& a : acc) a = vzero();
  for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
    for (int c = 0; c < 8; ++c) acc[c] = vfma(vset1(q16[d0 + c]), vload(kt + (d0 + c) * kLanes), acc[c]);
  }
  // A horizontal sum's tree: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
  const Vec t0 = vadd(acc[0], acc[4]), t1 = vadd(acc[1], acc[5]);
  const Vec t2 = vadd(acc[2], acc[6]), t3 = vadd(acc[3], acc[7]);
  return vmul(vadd(vadd(t0, t2), vadd(t1, t3)), scale);
}

// Rows up to this many take direct_tile_scores: the transpose pays only when many queries share each K tile.
constexpr int64_t kDirectMaxRows = 4;

// tile_scores' bits without the transpose, for a few queries (decode: one token's GQA group): per position, lane c
// of one accumulator runs the same fma chain over dims c, c + 8, ... as tile_scores' acc[c] at that position's
// lane, and the horizontal sum below is its tree. out[r * kLanes + j] = score of q16 row r (n_rows <= 4) at
// position p0 + j before the scale; positions past `count` get 0.
template <int kRows, typename T>
void direct_tile_scores(const PagedKvOf<T>& kv, int64_t p0, int64_t count, int64_t head_dim, const float* q16,
                        float* out) {
  for (int64_t j = 0; j < kLanes; ++j) {
    if (j >= count) {
      for (int r = 0; r < kRows; ++r) out[r * kLanes + j] = 0.0f;
      continue;
    }
    const T* k = kv.k + kv.row(p0 + j) * kv.stride;
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
      const __m256 kd = load8(k + d0);
      for (int r = 0; r < kRows; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(q16 + r * head_dim + d0), kd, acc[r]);
    }
    for (int r = 0; r < kRows; ++r) {
      // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), as tile_scores adds its accumulators.
      const __m128 t = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
      const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
      out[r * kLanes + j] = _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)));
    }
  }
}

template <typename T>
void direct_tile_scores(const PagedKvOf<T>& kv, int64_t p0, int64_t count, int64_t head_dim, const float* q16,
                        int64_t n_rows, float* out) {
  switch (n_rows) {
    case 1: return direct_tile_scores<1>(kv, p0, count, head_dim, q16, out);
    case 2: return direct_tile_scores<2>(kv, p0, count, head_dim, q16, out);
    case 3: return direct_tile_scores<3>(kv, p0, count, head_dim, q16, out);
    default: return direct_tile_scores<4>(kv, p0, count, head_dim, q16, out);
  }
}

// In place on s[start, n_ctx) with start = first rounded down to kLanes (s holds roundup(n_ctx, kLanes) floats):
// softmax weights over [first, n_ctx) (fp16-rounded when kRound), zeros before first and in the padding.
template <bool kRound>
void softmax_row(float* s, int64_t first, int64_t n_ctx) {
  const int64_t start = first / kLanes * kLanes, skip = first - start;
  const int64_t full = n_ctx / kLanes * kLanes, tail = n_ctx - full;
  for (int64_t p = start; p < first; ++p) s[p] = -INFINITY;
  const Vec neg_inf = vset1(-INFINITY);
  Vec m = neg_inf;
  for (int64_t p = start; p < full; p += kLanes) m = vmax(m, vload(s + p));
  if (tail > 0) m = vmax(m, vkeep(vload(s + full), tail, neg_inf));
  const Vec max = vset1(vmax_all(m));
  __m256 sum8 = _mm256_setzero_ps();
  for (int64_t p = start; p < full; p += kLanes) {
    Vec e = vexp(vsub(vload(s + p), max));
    if (p == start && skip > 0) e = vkeep_from(e, skip, vzero());
    vstore(s + p, e);
    sum8 = add_to8(sum8, e);
  }
  if (tail > 0) {
    Vec e = vkeep(vexp(vsub(vload(s + full), max)), tail, vzero());
    if (full == start && skip > 0) e = vkeep_from(e, skip, vzero());
    vstore(s + full, e);
    sum8 = add_to8(sum8, e);
  }
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  const Vec inv = vset1(1.0f / _mm_cvtss_f32(s4));
  for (int64_t p = start; p < n_ctx; p += kLanes) {
    const Vec w = vmul(vload(s + p), inv);
    vstore(s + p, kRound ? vround_half(w) : w);
  }
}

// out[0, 8 * kChunks) += sum_j w[j] * v[j * v_stride + ...] for j < count, an fma per position in order, with the
// accumulators in registers.
template <int kChunks>
inline void accumulate_v(const float* w, int64_t count, const float* v, int64_t v_stride, float* out) {
  __m256 acc[kChunks];
  for (int c = 0; c < kChunks; ++c) acc[c] = _mm256_loadu_ps(out + 8 * c);
  for (int64_t j = 0; j < count; ++j, v += v_stride) {
    const __m256 wj = _mm256_broadcast_ss(w + j);
    for (int c = 0; c < kChunks; ++c) acc[c] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(v + 8 * c), acc[c]);
  }
  for (int c = 0; c < kChunks; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// Tokens [t_begin, t_end) of the block: every head of each. kRound: fp16 K/V (q and weights rounded as ggml).
template <typename T>
void attend_tokens(const AttentionBlock& b, int64_t t_begin, int64_t t_end, const PagedKvOf<T>& kv,
                   int64_t head_dim, const AttentionOptions& o) {
  constexpr bool kRound = std::is_same_v<T, uint16_t>;
  const int64_t n_rows = (t_end - t_begin) * b.n_heads;
  const int64_t ctx_end = b.n_ctx0 + t_end - 1;  // positions the last token sees
  const int64_t ctx_pad = (ctx_end + kLanes - 1) / kLanes * kLanes;
  static thread_local std::vector<float> q16, scores, kt, vt;
  q16.resize(static_cast<size_t>(n_rows * head_dim));
  scores.resize(static_cast<size_t>(n_rows * ctx_pad));
  kt.resize(static_cast<size_t>(head_dim * kLanes));
  vt.resize(static_cast<size_t>(kVTile * head_dim));
  auto row_ctx = [&](int64_t row) { return b.n_ctx0 + t_begin + row / b.n_heads; };
  // First visible position of a row; rows are in position order, so row 0's is the block's lowest.
  auto row_first = [&](int64_t row) { return o.window > 0 ? std::max<int64_t>(0, row_ctx(row) - o.window) : int64_t{0}; };
  for (int64_t row = 0; row < n_rows; ++row) {
    const float* q = b.q + (t_begin + row / b.n_heads) * b.q_stride + (row % b.n_heads) * head_dim;
    float* dst = q16.data() + row * head_dim;
    for (int64_t d = 0; d < head_dim; d += 8) {
      _mm256_storeu_ps(dst + d, kRound ? round_half8(_mm256_loadu_ps(q + d)) : _mm256_loadu_ps(q + d));
    }
  }

  // Scores, one K tile of kLanes positions at a time, for every query that sees any of them.
  const Vec vscale = vset1(o.scale), vcap = vset1(o.softcap);
  const int64_t lowest = row_first(0);
  const bool direct = n_rows <= kDirectMaxRows;
  float direct_out[kDirectMaxRows * kLanes];
  for (int64_t p0 = lowest / kLanes * kLanes; p0 < ctx_end; p0 += kLanes) {
    if (direct) {
      direct_tile_scores(kv, p0, std::min(kLanes, ctx_end - p0), head_dim, q16.data(), n_rows, direct_out);
    } else {
      load_k_tile(kv, p0, std::min(kLanes, ctx_end - p0), head_dim, kt.data());
    }
    for (int64_t row = 0; row < n_rows; ++row) {
      if (p0 >= row_ctx(row) || p0 + kLanes <= row_first(row)) continue;
      Vec s = direct ? vmul(vload(direct_out + row * kLanes), vscale)
                     : tile_scores(q16.data() + row * head_dim, kt.data(), head_dim, vscale);
      if (o.softcap > 0.0f) s = vsoftcap(s, vcap);
      vstore(scores.data() + row * ctx_pad + p0, s);
    }
  }

  // Softmax per query; lanes outside the query's own window give weight 0.
  for (int64_t row = 0; row < n_rows; ++row) softmax_row<kRound>(scores.data() + row * ctx_pad, row_first(row), row_ctx(row));

  // Weighted V rows: outputs accumulate in place (zero first), 8 vectors of dims in registers per pass.
  for (int64_t row = 0; row < n_rows; ++row) {
    float* out = b.out + (t_begin + row / b.n_heads) * b.out_stride + (row % b.n_heads) * head_dim;
    std::fill(out, out + head_dim, 0.0f);
  }
  for (int64_t p0 = lowest; p0 < ctx_end; p0 += kVTile) {
    const int64_t count = std::min(kVTile, ctx_end - p0);
    for (int64_t j = 0; j < count; ++j) {
      const T* v = kv.v + kv.row(p0 + j) * kv.stride;
      for (int64_t d = 0; d < head_dim; d += 8) _mm256_storeu_ps(vt.data() + j * head_dim + d, load8(v + d));
    }
    for (int64_t row = 0; row < n_rows; ++row) {
      const int64_t from = std::max<int64_t>(0, row_first(row) - p0);
      const int64_t end = std::min(count, row_ctx(row) - p0);
      if (end <= from) continue;
      const float* w = scores.data() + row * ctx_pad + p0 + from;
      const float* vt_from = vt.data() + from * head_dim;
      float* out = b.out + (t_begin + row / b.n_heads) * b.out_stride + (row % b.n_heads) * head_dim;
      int64_t d0 = 0;
      for (; d0 + 64 <= head_dim; d0 += 64) accumulate_v<8>(w, end - from, vt_from + d0, head_dim, out + d0);
      for (; d0 < head_dim; d0 += 8) accumulate_v<1>(w, end - from, vt_from + d0, head_dim, out + d0);
    }
  }
}

template <typename T>
void attend_block(const AttentionBlock& b, const PagedKvOf<T>& kv, int64_t head_dim, const AttentionOptions& o) {
  // Sub-blocks of tokens keep the score matrix within kScoreBudget floats (at least one token each).
  const int64_t ctx_last = b.n_ctx0 + b.n_tokens - 1;
  const int64_t step = std::max<int64_t>(1, kScoreBudget / std::max<int64_t>(1, b.n_heads * (ctx_last + 8)));
  for (int64_t t = 0; t < b.n_tokens; t += step) attend_tokens(b, t, std::min(b.n_tokens, t + step), kv, head_dim, o);
}

}  // namespace

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale) {
  AttentionOptions o;
  o.scale = scale;
  attend_block(b, kv, head_dim, o);
}

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_block(b, kv, head_dim, o);
}

void attention_block(const AttentionBlock& b, const PagedKvF32& kv, int64_t head_dim, const AttentionOptions& o) {
  attend_block(b, kv, head_dim, o);
}

}  // namespace podserve::kernels::avx2
