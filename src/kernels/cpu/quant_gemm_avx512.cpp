// AVX-512 + AVX512-VNNI build of the quantized GEMM for decode and small batches (on AMX CPUs n < 4 tokens;
// AMX takes larger ones). Callers check cpu::has_avx512(). One float lane per weight row, 16 rows per pass:
//  - integer: each zmm holds one quant block of two rows (as bytes), vpdpbusd against the token's activation
//    block gives 8 partial sums per row; a shuffle-and-add tree turns the 8 vectors into one vector of the 16
//    rows' exact block dot products (the order of integer adds does not matter: they are exact);
//  - float: the 16 rows' block scales come in with one gather, then acc = fma(i, dw * da, acc) (+ Q4_1's
//    fma(m, s, acc)), the same float steps as every other path (quant_gemm_impl.inc), so the bits are the same.
// Signed weights are biased to unsigned as in the AVX-VNNI path, and the bias times sum(a) is subtracted from
// the reduced dot products. Rows past the last full group of 16, and Q5_0/Q5_1, take the AVX-VNNI path.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/cpu/quant_gemm_group16.h"

namespace podserve::kernels::gemm {
namespace {

using group16::Layout;

// The zmm of rows a and b for one block, and where their bytes sit in it (see reduce16):
//  Q8_0: [a 0-15 | a 16-31 | b 0-15 | b 16-31] (signed bytes biased by 128),
//  Q4_x: [a 0-15 | b 0-15 | a 16-31 | b 16-31] (low nibbles = elements 0-15, high = 16-31).
template <DType WT>
inline __m512i load_pair(const uint8_t* a, const uint8_t* b) {
  const uint8_t* qa = a + Layout<WT>::kQs;
  const uint8_t* qb = b + Layout<WT>::kQs;
  if constexpr (WT == DType::kQ8_0) {
    const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa))),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb)), 1);
    return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80)));
  } else {
    const __m256i packed = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(qb), reinterpret_cast<const __m128i*>(qa));
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(packed, mask), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
}

// The activation block laid out to match load_pair.
template <DType WT>
inline __m512i load_act(const ActBlock& a) {
  const __m512i q = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs)));
  if constexpr (WT == DType::kQ8_0) {
    return _mm512_shuffle_i32x4(q, q, _MM_SHUFFLE(1, 0, 1, 0));  // [0-15 | 16-31 | 0-15 | 16-31]
  } else {
    return _mm512_shuffle_i32x4(q, q, _MM_SHUFFLE(1, 1, 0, 0));  // [0-15 | 0-15 | 16-31 | 16-31]
  }
}

// p[i] holds the partial sums of rows (i, i + 4) for i < 4 and (i + 4, i + 8) for i >= 4 (see row_pairs); returns
// the 16 rows' totals in row order. Levels 1 and 2 add within 128-bit chunks, leaving in chunk k of r0123 the
// chunk-k sums of p0..p3 (and of p4..p7 in r4567); level 3 adds each row's two chunks.
template <DType WT>
inline __m512i reduce16(const __m512i p[8]) {
  __m512i q[4];
  for (int i = 0; i < 4; ++i) {
    q[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * i], p[2 * i + 1]), _mm512_unpackhi_epi32(p[2 * i], p[2 * i + 1]));
  }
  const __m512i r0123 = _mm512_add_epi32(_mm512_unpacklo_epi64(q[0], q[1]), _mm512_unpackhi_epi64(q[0], q[1]));
  const __m512i r4567 = _mm512_add_epi32(_mm512_unpacklo_epi64(q[2], q[3]), _mm512_unpackhi_epi64(q[2], q[3]));
  if constexpr (WT == DType::kQ8_0) {  // row a in chunks 0, 1; row b in chunks 2, 3
    const __m512i x = _mm512_shuffle_i32x4(r0123, r4567, _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i y = _mm512_shuffle_i32x4(r0123, r4567, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm512_add_epi32(x, y);
  } else {  // row a in chunks 0, 2; row b in chunks 1, 3
    const __m512i x = _mm512_shuffle_i32x4(r0123, r4567, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i y = _mm512_shuffle_i32x4(r0123, r4567, _MM_SHUFFLE(3, 2, 3, 2));
    return _mm512_add_epi32(x, y);
  }
}

using group16::kFarGroups;

// Rows a and b of p[i] (see reduce16).
constexpr int kRowA[8] = {0, 1, 2, 3, 8, 9, 10, 11};
constexpr int kRowB[8] = {4, 5, 6, 7, 12, 13, 14, 15};

// y[r0 .. r0 + 15] for one token.
template <DType WT>
inline void rows16(const MatrixView& w, int64_t r0, const ActBlock* act, int64_t blocks, __m512i row_offsets,
                   bool prefetch, float* y) {
  constexpr int kBytes = Layout<WT>::kBytes;
  const uint8_t* base = w.row(r0);
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  // Decode streams the weights from L3/DRAM: while these 16 rows are computed, the next group (contiguous:
  // 16 * row_bytes) is fetched into L1 and the one kFarGroups ahead into L2, a few lines per block.
  const char* near = reinterpret_cast<const char*>(base) + 16 * row_bytes;
  const char* far = reinterpret_cast<const char*>(base) + kFarGroups * 16 * row_bytes;
  const int64_t lines = (16 * row_bytes + 63) / 64, per_block = (lines + blocks - 1) / blocks;
  const bool prefetch_near = prefetch && r0 + 32 <= w.rows, prefetch_far = prefetch && r0 + 16 * (kFarGroups + 1) <= w.rows;
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t l = b * per_block; l < std::min(lines, (b + 1) * per_block); ++l) {
      if (prefetch_near) _mm_prefetch(near + l * 64, _MM_HINT_T0);
      if (prefetch_far) _mm_prefetch(far + l * 64, _MM_HINT_T1);
    }
    const ActBlock& ab = act[b];
    const __m512i aq = load_act<WT>(ab);
    const uint8_t* blk = base + b * kBytes;
    __m512i p[8];
    for (int i = 0; i < 8; ++i) {
      p[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), load_pair<WT>(blk + kRowA[i] * row_bytes, blk + kRowB[i] * row_bytes), aq);
    }
    __m512i dot = reduce16<WT>(p);
    if constexpr (Layout<WT>::kShift >= 0) {
      int32_t sum = 0;
      for (int l = 0; l < 8; ++l) sum += ab.lane_sum[l];
      dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(sum << Layout<WT>::kShift));
    }
    // d (and Q4_1's m) of the 16 rows: the first 4 bytes of each row's block.
    const __m512i dm = _mm512_i32gather_epi32(row_offsets, blk, 1);
    const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_set1_ps(ab.d)), acc);
    if constexpr (WT == DType::kQ4_1) {
      const __m512 mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
      acc = _mm512_fmadd_ps(mw, _mm512_set1_ps(ab.s), acc);
    }
  }
  _mm512_storeu_ps(y + r0, acc);
}

template <DType WT>
void gemm_rows(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  const int64_t blocks = w.cols / 32;
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  const __m512i row_offsets = group16::row_offsets(row_bytes);
  int64_t r = row_begin;
  for (; r + 16 <= row_end; r += 16) {
    // Prefetch during the first token's pass only (later tokens find these rows in L1).
    for (int64_t t = 0; t < n; ++t) rows16<WT>(w, r, acts + t * blocks, blocks, row_offsets, t == 0, y + t * w.rows);
  }
  if (r < row_end) gemm_rows_avxvnni(w, acts, n, r, row_end, y);
}

}  // namespace

void gemm_rows_avx512(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  switch (w.type) {
    case DType::kQ8_0: return gemm_rows<DType::kQ8_0>(w, acts, n, row_begin, row_end, y);
    case DType::kQ4_0: return gemm_rows<DType::kQ4_0>(w, acts, n, row_begin, row_end, y);
    case DType::kQ4_1: return gemm_rows<DType::kQ4_1>(w, acts, n, row_begin, row_end, y);
    default: return gemm_rows_avxvnni(w, acts, n, row_begin, row_end, y);  // the other types (Q5_0, Q5_1)
  }
}

}  // namespace podserve::kernels::gemm
