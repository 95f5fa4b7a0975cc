// What the AVX-512 decode kernel (quant_gemm_avx512.cpp) and the AMX decode kernel (quant_gemm_amx_decode.cpp)
// share: both take 16 weight rows per pass with one float lane per row. Include only from files built with
// AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "base/check.h"
#include "base/dtype.h"

namespace podserve::kernels::gemm::group16 {

// A block's size, where its quants start, and the weight bias (as a shift of sum(a)) of the biased-unsigned form
// the integer products use (-1: none).
template <DType WT> struct Layout;
template <> struct Layout<DType::kQ8_0> { enum : int { kBytes = 34, kQs = 2, kShift = 7 }; };
template <> struct Layout<DType::kQ4_0> { enum : int { kBytes = 18, kQs = 2, kShift = 3 }; };
template <> struct Layout<DType::kQ4_1> { enum : int { kBytes = 20, kQs = 4, kShift = -1 }; };

constexpr int64_t kFarGroups = 3;  // how many 16-row groups ahead to prefetch into L2 (measured: 1 to 4)

/// Byte offsets of rows 0..15 from row 0, for gathering one block's scales (or quants) of 16 rows.
inline __m512i row_offsets(int64_t row_bytes) {
  PODSERVE_CHECK(16 * row_bytes < (int64_t{1} << 31));
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int32_t>(row_bytes)));
}

}  // namespace podserve::kernels::gemm::group16
