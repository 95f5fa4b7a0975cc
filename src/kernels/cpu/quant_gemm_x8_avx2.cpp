// AVX2 GEMM over packed weights (packed_weights.h) for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0: 8 rows per pass, one
// int32 lane per row, so a block's dot product needs no horizontal sum and its 8 scales are one load.
//  - Q4_x/Q5_x: the weights stay unsigned (Q4_0 0..15, Q5_0 0..31 instead of q - 8 / q - 16, the bias times
//    sum(a) subtracted once per block, exactly); vpmaddubsw against 4 activation bytes broadcast to every lane,
//    whose int16 results are summed over up to 8 quads (Q4: at most 8 * 2 * 15 * 127 = 30480; Q5: 4 quads,
//    31496) before one vpmaddwd widens them, so a block costs 8 multiplies and 1 widening per token.
//  - Q8_0: signed weights, |w| times a with w's sign moved onto a (vpsignb), widened per quad.
// Float steps per block and row, as every path (quant_gemm_impl.inc): acc = fma(float(i), dw * da, acc), then
// Q4_1/Q5_1's acc = fma(m, s, acc). Tokens: up to 4 per pass share the unpacked weights (prefill and batched
// decode); a block of 64 tokens' activations stays in L2 while each group's weights stay in L1.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/packed_weights.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/cpu/x8_avx2.h"

namespace podserve::kernels::gemm {
namespace {

// Packed group-block layout (packed_weights.h): where the mins, fifth bits and quants start; the bias of the
// unsigned form (0: none).
template <DType WT> struct X8;
template <> struct X8<DType::kQ8_0> { static constexpr int kM = -1, kQh = -1, kQs = 16, kBias = 0; };
template <> struct X8<DType::kQ4_0> { static constexpr int kM = -1, kQh = -1, kQs = 16, kBias = 8; };
template <> struct X8<DType::kQ4_1> { static constexpr int kM = 16, kQh = -1, kQs = 32, kBias = 0; };
template <> struct X8<DType::kQ5_0> { static constexpr int kM = -1, kQh = 16, kQs = 48, kBias = 16; };
template <> struct X8<DType::kQ5_1> { static constexpr int kM = 16, kQh = 32, kQs = 64, kBias = 0; };

using x8_avx2::bcast4;
using x8_avx2::fifth_bits;
using x8_avx2::halves;
using x8_avx2::load32;
using x8_avx2::store_group;

// One group-block (8 rows x 32 weights) against T tokens' activation blocks a[t]; acc[t] lane j = row j.
// asum[t]: sum of a[t]'s quants (used for the bias).
template <DType WT, int T>
inline void group_block(const uint8_t* pb, const ActBlock* const* a, const int32_t* asum, __m256* acc) {
  using L = X8<WT>;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i isum[T];
  if constexpr (WT == DType::kQ8_0) {
    for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const __m256i w = load32(pb + L::kQs + 32 * k);
      const __m256i aw = _mm256_sign_epi8(w, w);
      for (int t = 0; t < T; ++t) {
        const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(a[t]->qs + 4 * k), w));
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, ones));
      }
    }
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i p16[T];
    for (int t = 0; t < T; ++t) p16[t] = _mm256_setzero_si256(), isum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i v = load32(pb + L::kQs + 32 * c);
      __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      if constexpr (L::kQh >= 0) fifth_bits(pb + L::kQh + 8 * c, &lo, &hi);
      for (int t = 0; t < T; ++t) {
        p16[t] = _mm256_add_epi16(p16[t], _mm256_maddubs_epi16(lo, bcast4(a[t]->qs + 4 * c)));
        p16[t] = _mm256_add_epi16(p16[t], _mm256_maddubs_epi16(hi, bcast4(a[t]->qs + 16 + 4 * c)));
      }
      if (L::kQh >= 0 && c == 1) {  // Q5: widen every 4 products (see the file comment)
        for (int t = 0; t < T; ++t) isum[t] = _mm256_madd_epi16(p16[t], ones), p16[t] = _mm256_setzero_si256();
      }
    }
    for (int t = 0; t < T; ++t) {
      isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16[t], ones));
      if constexpr (L::kBias != 0) isum[t] = _mm256_sub_epi32(isum[t], _mm256_set1_epi32(L::kBias * asum[t]));
    }
  }
  const __m256 dw = halves(pb);
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d)), acc[t]);
    if constexpr (L::kM >= 0) acc[t] = _mm256_fmadd_ps(halves(pb + L::kM), _mm256_set1_ps(a[t]->s), acc[t]);
  }
}

constexpr int64_t kPrefetchAhead = 2048;

// Rows [r0, r1) of group g (r0 >= 8g, r1 <= 8g + 8) for tokens t0 .. t0 + T - 1.
template <DType WT, int T>
inline void group_tokens(const MatrixView& w, int64_t g, const ActBlock* acts, const int32_t* sums, int64_t t0,
                         int64_t r0, int64_t r1, float* y) {
  const int64_t blocks = w.cols / 32, gbytes = group_block_bytes(WT);
  const uint8_t* pg = w.packed + g * blocks * gbytes;
  __m256 acc[T];
  const ActBlock* a[T];
  int32_t asum[T] = {};
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    for (int t = 0; t < T; ++t) {
      a[t] = acts + (t0 + t) * blocks + b;
      if constexpr (X8<WT>::kBias != 0) asum[t] = sums[(t0 + t) * blocks + b];
    }
    if constexpr (T == 1) {  // decode streams each weight once: ask for the bytes kPrefetchAhead on early
      for (int64_t o = 0; o < gbytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(pg + b * gbytes + o + kPrefetchAhead), _MM_HINT_T0);
    }
    group_block<WT, T>(pg + b * gbytes, a, asum, acc);
  }
  store_group<T>(acc, g, r0, r1, t0, w.rows, y);
}

constexpr int64_t kTokenBlock = 64;  // activations kept in L2 per pass over the rows

template <DType WT>
void gemm_rows_x8(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  const int64_t blocks = w.cols / 32;
  static thread_local std::vector<int32_t> sum_buf;  // per (token, block): sum of the quants, for the bias
  if constexpr (X8<WT>::kBias != 0) {
    sum_buf.resize(static_cast<size_t>(n * blocks));
    for (int64_t i = 0; i < n * blocks; ++i) {
      int32_t s = 0;
      for (int32_t l : acts[i].lane_sum) s += l;
      sum_buf[i] = s;
    }
  }
  const int32_t* sums = sum_buf.data();
  const int64_t g_begin = row_begin / 8, g_end = (row_end + 7) / 8;
  for (int64_t tb = 0; tb < n; tb += kTokenBlock) {
    const int64_t te = std::min(n, tb + kTokenBlock);
    for (int64_t g = g_begin; g < g_end; ++g) {
      const int64_t r0 = std::max(row_begin, 8 * g), r1 = std::min(row_end, 8 * g + 8);
      int64_t t = tb;
      for (; t + 4 <= te; t += 4) group_tokens<WT, 4>(w, g, acts, sums, t, r0, r1, y);
      switch (te - t) {
        case 3: group_tokens<WT, 3>(w, g, acts, sums, t, r0, r1, y); break;
        case 2: group_tokens<WT, 2>(w, g, acts, sums, t, r0, r1, y); break;
        case 1: group_tokens<WT, 1>(w, g, acts, sums, t, r0, r1, y); break;
        default: break;
      }
    }
  }
}

}  // namespace

void gemm_rows_packed_avx2(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end,
                           float* y) {
  PODSERVE_CHECK(w.packed != nullptr);
  switch (w.type) {
    case DType::kQ8_0: return gemm_rows_x8<DType::kQ8_0>(w, acts, n, row_begin, row_end, y);
    case DType::kQ4_0: return gemm_rows_x8<DType::kQ4_0>(w, acts, n, row_begin, row_end, y);
    case DType::kQ4_1: return gemm_rows_x8<DType::kQ4_1>(w, acts, n, row_begin, row_end, y);
    case DType::kQ5_0: return gemm_rows_x8<DType::kQ5_0>(w, acts, n, row_begin, row_end, y);
    case DType::kQ5_1: return gemm_rows_x8<DType::kQ5_1>(w, acts, n, row_begin, row_end, y);
    default: PODSERVE_CHECK(false) << "packed gemm: unsupported weight type " << dtype_name(w.type);
  }
}

}  // namespace podserve::kernels::gemm
