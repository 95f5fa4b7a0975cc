// AVX2 GEMM over packed K-quant weights (packed_weights.h): Q4_K, Q5_K, Q6_K, 8 rows per pass with one int32 lane
// per row (as quant_gemm_x8_avx2.cpp), so a super-block needs no horizontal sums and its scales are vector loads.
// The integers are quant_gemm_k.h's: per sub-block, vpmaddubsw of the unsigned weights against 4 broadcast
// activation bytes, summed in int16 while that cannot overflow (Q4_K: 8 quads, at most 8 * 2 * 15 * 127 = 30480;
// Q5_K: 4 quads; Q6_K: 2 quads), then vpmaddwd by the sub-block scale pair into int32; the mins (Q4_K/Q5_K) and
// Q6_K's -32 go through the activations' per-16 sums. Float steps per super-block and row as every path:
//   Q4_K/Q5_K: acc = fma(float(isum), d * da, acc); acc = fma(-float(msum), dmin * da, acc)
//   Q6_K:      acc = fma(float(isum), d * da, acc)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/packed_weights.h"
#include "kernels/cpu/quant_gemm_k.h"
#include "kernels/cpu/x8_avx2.h"

namespace podserve::kernels::gemm {
namespace {

using x8_avx2::bcast4;
using x8_avx2::fifth_bits;
using x8_avx2::halves;
using x8_avx2::load32;
using x8_avx2::store_group;

// From 16 bytes [row][2] (a pair of sub-block scales per row): lane j = (s, s) as int16, s = the first (kOdd =
// false) or second of row j's pair; signed (Q6_K) or unsigned (Q4_K/Q5_K).
template <bool kSigned, bool kOdd>
inline __m256i scale_pair(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i dup = kOdd ? _mm_setr_epi8(1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15, 15)
                           : _mm_setr_epi8(0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14);
  const __m128i d = _mm_shuffle_epi8(v, dup);
  return kSigned ? _mm256_cvtepi8_epi16(d) : _mm256_cvtepu8_epi16(d);
}

// Q4_K/Q5_K: one group-super-block against T tokens; apair[t]: 4 int32 words, word p = (asum_2p, asum_2p+1) as
// int16 (asum_j = the sum of token t's quants in sub-block j).
template <DType WT, int T>
inline void superblock_k4(const uint8_t* pb, const KActBlock* const* a, const int32_t* const* apair, __m256* acc) {
  constexpr bool kFive = WT == DType::kQ5_K;
  const uint8_t* qs = pb + (kFive ? 416 : 160);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i isum[T], msum[T];
  for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256(), msum[t] = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i sc_lo = scale_pair<false, false>(pb + 32 + 16 * c), sc_hi = scale_pair<false, true>(pb + 32 + 16 * c);
    __m256i p_lo[T], p_hi[T];
    for (int t = 0; t < T; ++t) p_lo[t] = p_hi[t] = _mm256_setzero_si256();
    for (int q = 0; q < 8; ++q) {
      const __m256i v = load32(qs + 256 * c + 32 * q);
      __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      if constexpr (kFive) fifth_bits(pb + 160 + 64 * c + 8 * q, &lo, &hi);
      for (int t = 0; t < T; ++t) {
        p_lo[t] = _mm256_add_epi16(p_lo[t], _mm256_maddubs_epi16(lo, bcast4(a[t]->qs + 64 * c + 4 * q)));
        p_hi[t] = _mm256_add_epi16(p_hi[t], _mm256_maddubs_epi16(hi, bcast4(a[t]->qs + 64 * c + 32 + 4 * q)));
      }
      if (q == 7 || (kFive && q == 3)) {
        for (int t = 0; t < T; ++t) {
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(p_lo[t], sc_lo),
                                                               _mm256_madd_epi16(p_hi[t], sc_hi)));
          p_lo[t] = p_hi[t] = _mm256_setzero_si256();
        }
      }
    }
  }
  for (int p = 0; p < 4; ++p) {
    const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + 96 + 16 * p)));
    for (int t = 0; t < T; ++t) msum[t] = _mm256_add_epi32(msum[t], _mm256_madd_epi16(m, _mm256_set1_epi32(apair[t][p])));
  }
  const __m256 d = halves(pb), dmin = halves(pb + 16);
  for (int t = 0; t < T; ++t) {
    const __m256 da = _mm256_set1_ps(a[t]->d);
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d, da), acc[t]);
    acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[t]), _mm256_mul_ps(dmin, da), acc[t]);
  }
}

// Q6_K: one group-super-block against T tokens.
template <int T>
inline void superblock_q6k(const uint8_t* pb, const KActBlock* const* a, __m256* acc) {
  const uint8_t* sc = pb + 16;  // [pair][row][2], signed
  __m256i isum[T], corr[T];
  for (int t = 0; t < T; ++t) isum[t] = corr[t] = _mm256_setzero_si256();
  for (int p = 0; p < 8; ++p) {  // sum_s sc_s * bsum_s, for the -32
    const __m256i s = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16 * p)));
    for (int t = 0; t < T; ++t) corr[t] = _mm256_add_epi32(corr[t], _mm256_madd_epi16(s, bcast4(a[t]->bsums + 2 * p)));
  }
  const __m256i low6 = _mm256_set1_epi8(0x3f), low4 = _mm256_set1_epi8(0x0f), high4 = _mm256_set1_epi8(static_cast<char>(0xf0));
  const __m256i low2 = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    for (int sub = 0; sub < 2; ++sub) {  // quads 4 sub .. 4 sub + 3: sub-blocks 8h + 2k + sub
      __m256i scale[4];
      for (int k = 0; k < 4; ++k) {
        scale[k] = sub ? scale_pair<true, true>(sc + 16 * (4 * h + k)) : scale_pair<true, false>(sc + 16 * (4 * h + k));
      }
      for (int q2 = 0; q2 < 4; q2 += 2) {
        __m256i p[T][4];
        for (int t = 0; t < T; ++t) {
          for (int k = 0; k < 4; ++k) p[t][k] = _mm256_setzero_si256();
        }
        for (int qq = q2; qq < q2 + 2; ++qq) {
          const int q = 4 * sub + qq;
          const uint8_t* v = pb + 144 + 96 * (8 * h + q);
          const __m256i va = load32(v), vb = load32(v + 32), vc = load32(v + 64);
          __m256i w[4];
          w[0] = _mm256_and_si256(va, low6);
          w[1] = _mm256_and_si256(vb, low6);
          w[2] = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(vc, low4), 2),
                                 _mm256_and_si256(_mm256_srli_epi16(va, 6), low2));
          w[3] = _mm256_or_si256(_mm256_srli_epi16(_mm256_and_si256(vc, high4), 2),
                                 _mm256_and_si256(_mm256_srli_epi16(vb, 6), low2));
          for (int t = 0; t < T; ++t) {
            for (int k = 0; k < 4; ++k) {
              p[t][k] = _mm256_add_epi16(p[t][k], _mm256_maddubs_epi16(w[k], bcast4(a[t]->qs + 128 * h + 32 * k + 4 * q)));
            }
          }
        }
        for (int t = 0; t < T; ++t) {
          for (int k = 0; k < 4; ++k) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p[t][k], scale[k]));
        }
      }
    }
  }
  const __m256 d = halves(pb);
  for (int t = 0; t < T; ++t) {
    isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(corr[t], 5));
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d, _mm256_set1_ps(a[t]->d)), acc[t]);
  }
}

// Rows [r0, r1) of group g for tokens t0 .. t0 + T - 1; apairs: 4 words per (token, super-block) (Q4_K/Q5_K).
template <DType WT, int T>
inline void group_tokens(const MatrixView& w, int64_t g, const KActBlock* acts, const int32_t* apairs, int64_t t0,
                         int64_t r0, int64_t r1, float* y) {
  const int64_t blocks = w.cols / 256, gbytes = group_block_bytes(WT);
  const uint8_t* pg = w.packed + g * blocks * gbytes;
  __m256 acc[T];
  const KActBlock* a[T];
  const int32_t* ap[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    for (int t = 0; t < T; ++t) a[t] = acts + (t0 + t) * blocks + b, ap[t] = apairs + 4 * ((t0 + t) * blocks + b);
    if constexpr (WT == DType::kQ6_K) {
      superblock_q6k<T>(pg + b * gbytes, a, acc);
    } else {
      superblock_k4<WT, T>(pg + b * gbytes, a, ap, acc);
    }
  }
  store_group<T>(acc, g, r0, r1, t0, w.rows, y);
}

constexpr int64_t kTokenBlock = 32;  // activations (~8.5 KiB per 2048 columns and token) kept in L2

template <DType WT>
void gemm_rows_x8(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  constexpr int kMaxTokens = WT == DType::kQ6_K ? 2 : 3;  // accumulators that fit the 16 ymm registers
  const int64_t blocks = w.cols / 256;
  static thread_local std::vector<int32_t> pair_buf;  // per (token, super-block): the 4 asum pairs
  if constexpr (WT != DType::kQ6_K) {
    pair_buf.resize(static_cast<size_t>(4 * n * blocks));
    for (int64_t i = 0; i < n * blocks; ++i) {
      const int16_t* bs = acts[i].bsums;
      for (int p = 0; p < 4; ++p) {
        const auto lo = static_cast<uint16_t>(bs[4 * p] + bs[4 * p + 1]), hi = static_cast<uint16_t>(bs[4 * p + 2] + bs[4 * p + 3]);
        pair_buf[4 * i + p] = static_cast<int32_t>(static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16);
      }
    }
  }
  const int32_t* apairs = pair_buf.data();
  const int64_t g_begin = row_begin / 8, g_end = (row_end + 7) / 8;
  for (int64_t tb = 0; tb < n; tb += kTokenBlock) {
    const int64_t te = std::min(n, tb + kTokenBlock);
    for (int64_t g = g_begin; g < g_end; ++g) {
      const int64_t r0 = std::max(row_begin, 8 * g), r1 = std::min(row_end, 8 * g + 8);
      int64_t t = tb;
      for (; t + kMaxTokens <= te; t += kMaxTokens) group_tokens<WT, kMaxTokens>(w, g, acts, apairs, t, r0, r1, y);
      for (; t + 2 <= te; t += 2) group_tokens<WT, 2>(w, g, acts, apairs, t, r0, r1, y);
      if (t < te) group_tokens<WT, 1>(w, g, acts, apairs, t, r0, r1, y);
    }
  }
}

}  // namespace

void gemm_k_rows_packed_avx2(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin,
                             int64_t row_end, float* y) {
  PODSERVE_CHECK(w.packed != nullptr);
  switch (w.type) {
    case DType::kQ4_K: return gemm_rows_x8<DType::kQ4_K>(w, acts, n, row_begin, row_end, y);
    case DType::kQ5_K: return gemm_rows_x8<DType::kQ5_K>(w, acts, n, row_begin, row_end, y);
    case DType::kQ6_K: return gemm_rows_x8<DType::kQ6_K>(w, acts, n, row_begin, row_end, y);
    default: PODSERVE_CHECK(false) << "packed k-quant gemm: unsupported weight type " << dtype_name(w.type);
  }
}

}  // namespace podserve::kernels::gemm
