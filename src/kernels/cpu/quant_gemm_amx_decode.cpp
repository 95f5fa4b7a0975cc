// AMX-INT8 build of the quantized GEMM for small batches (up to 64 tokens: batched decode), Q4_0, Q4_1, Q8_0.
// The prefill kernel (quant_gemm_amx.cpp) puts 16 weight rows in tile A and pads the tokens to 16, so it pays
// 16 tokens' scaling and a full weight unpack whatever n is. Here the tokens are the tile rows instead:
//  - A = up to 16 tokens' activation blocks (s8): for n <= 16 loaded straight from the ActBlocks with their
//    stride (tiles of n rows); for more, groups of 16 tokens copied to a zero-padded buffer;
//  - B = one quant block of 16 weight rows (u8, biased as in the VNNI paths), gathered into the VNNI layout
//    B[k/4][row*4 + k%4] per block, during the first token group, and kept for the others;
//  - tdpbsud gives C[token][row], the exact int32 block dot products, and AVX-512 applies each token's block
//    scale to its row of C: one float lane per weight row, as in quant_gemm_avx512.cpp, with the same float
//    steps (acc = fma(i, dw*da, acc), then Q4_1's fma(m, s, acc)), so the bits are those of every other path.
// Scaling costs per real token, not per 16, so this beats the prefill kernel up to 64 tokens and the AVX-512
// one (which loops over tokens) from about 4 (SmolLM2 shapes, this repo's Sapphire Rapids VMs).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/cpu/quant_gemm_group16.h"
#include "kernels/cpu/quant_gemm_amx_tiles.h"

namespace podserve::kernels::gemm {
namespace {

// A macro: GCC's tile intrinsics paste the tile number into the assembly text, so it must be a literal.
#define PODSERVE_AMX_DECODE_BLOCK(C, A, B, acts, act_stride, weights) \
  do {                                                                \
    _tile_zero(C);                                                    \
    _tile_loadd(A, acts, static_cast<int>(act_stride));               \
    _tile_loadd(B, weights, 64);                                      \
    _tile_dpbsud(C, A, B);                                            \
  } while (0)

using group16::kFarGroups;

using group16::Layout;

// Block blk (of row 0; row r at blk + r * row_bytes) of 16 rows in B's layout: out row k4 holds elements
// 4*k4 .. 4*k4+3 of each row, one dword per row. Q4_x: element k < 16 is the low nibble of byte k, k >= 16 the
// high nibble of byte k - 16, so dword k4 of the packed bytes gives B rows k4 and k4 + 4.
template <DType WT>
inline void unpack_block(const uint8_t* blk, __m512i row_offsets, __m512i* out) {
  const uint8_t* qs = blk + Layout<WT>::kQs;
  if constexpr (WT == DType::kQ8_0) {
    for (int k4 = 0; k4 < 8; ++k4) {
      const __m512i v = _mm512_i32gather_epi32(row_offsets, qs + 4 * k4, 1);
      _mm512_store_si512(out + k4, _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80))));
    }
  } else {
    const __m512i mask = _mm512_set1_epi8(0x0f);
    for (int k4 = 0; k4 < 4; ++k4) {
      const __m512i v = _mm512_i32gather_epi32(row_offsets, qs + 4 * k4, 1);
      _mm512_store_si512(out + k4, _mm512_and_si512(v, mask));
      _mm512_store_si512(out + k4 + 4, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
    }
  }
}

template <DType WT>
void gemm_rows(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  const int64_t blocks = w.cols / 32;
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  const __m512i row_offsets = group16::row_offsets(row_bytes);
  // bias * sum(a) per (token, block): the correction of the biased weights (see quant_gemm_impl.inc).
  static thread_local std::vector<int32_t> corr_buf;
  corr_buf.assign(static_cast<size_t>(n * blocks), 0);
  if constexpr (Layout<WT>::kShift >= 0) {
    for (int64_t i = 0; i < n * blocks; ++i) {
      int32_t sum = 0;
      for (int l = 0; l < 8; ++l) sum += acts[i].lane_sum[l];
      corr_buf[static_cast<size_t>(i)] = sum << Layout<WT>::kShift;
    }
  }
  const int32_t* corr = corr_buf.data();
  // Tile A's source: up to 16 tokens, the ActBlocks themselves (tiles of n rows); more, groups of 16 tokens
  // copied to [token][block][32] with the last group zero-padded, so every tile has 16 rows.
  const int64_t groups = (n + 15) / 16;
  const int8_t* a_base = acts[0].qs;
  int64_t a_stride = blocks * static_cast<int64_t>(sizeof(ActBlock)), a_block = static_cast<int64_t>(sizeof(ActBlock));
  static thread_local std::vector<int8_t> a_buf;
  if (groups > 1) {
    a_buf.assign(static_cast<size_t>(groups * 16 * blocks * 32), 0);
    for (int64_t i = 0; i < n * blocks; ++i) std::memcpy(a_buf.data() + i * 32, acts[i].qs, 32);
    a_base = a_buf.data(), a_stride = blocks * 32, a_block = 32;
  }
  // The 16 rows' unpacked blocks, made during the first token group and reused by the others.
  struct alignas(64) WeightTile { __m512i rows[8]; };
  static thread_local std::vector<WeightTile> w_buf;
  w_buf.resize(static_cast<size_t>(blocks));
  WeightTile* const w_tiles = w_buf.data();
  const int64_t lines = (16 * row_bytes + 63) / 64, per_block = (lines + blocks - 1) / blocks;
  // Tiles: C = n tokens x 16 rows int32, A = n tokens x 32 s8, B = 8 x 16 rows x 4 u8 (two sets each).
  amx::load_double_buffered_tiles(static_cast<int>(std::min<int64_t>(n, 16)));
  alignas(64) int32_t c[2][16][16];
  for (int64_t r0 = row_begin; r0 < row_end; r0 += 16) {
    const uint8_t* base = w.row(r0);
    // The weights stream from L3/DRAM (as in quant_gemm_avx512.cpp): while these 16 rows are computed, the next
    // group (contiguous) is fetched into L1 and the one kFarGroups ahead into L2, a few lines per block.
    const char* near = reinterpret_cast<const char*>(base) + 16 * row_bytes;
    const char* far = reinterpret_cast<const char*>(base) + kFarGroups * 16 * row_bytes;
    const bool prefetch_near = r0 + 32 <= w.rows, prefetch_far = r0 + 16 * (kFarGroups + 1) <= w.rows;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t t0 = g * 16, tokens = std::min<int64_t>(16, n - t0);
      const bool first = g == 0;
      // Block b's weights in B's layout (unpacked in the first group) and its activations in A's.
      auto weights = [&](int64_t b) {
        __m512i* tile = w_tiles[b].rows;
        if (first) unpack_block<WT>(base + b * Layout<WT>::kBytes, row_offsets, tile);
        return tile;
      };
      auto act_tile = [&](int64_t b) { return a_base + t0 * a_stride + b * a_block; };
      __m512 acc[16];
      for (int64_t t = 0; t < tokens; ++t) acc[t] = _mm512_setzero_ps();
      // Scales block b's products (prod[t] = token t0 + t's 16 row dots) into acc, in block order.
      auto scale_block = [&](int64_t b, const int32_t (*prod)[16]) {
        const __m512i dm = _mm512_i32gather_epi32(row_offsets, base + b * Layout<WT>::kBytes, 1);
        const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
        __m512 mw;
        if constexpr (WT == DType::kQ4_1) mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
        for (int64_t t = 0; t < tokens; ++t) {
          const int64_t i = (t0 + t) * blocks + b;
          const __m512i dot = _mm512_sub_epi32(_mm512_load_si512(prod[t]), _mm512_set1_epi32(corr[i]));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_set1_ps(acts[i].d)), acc[t]);
          if constexpr (WT == DType::kQ4_1) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(acts[i].s), acc[t]);
        }
      };
      auto prefetch = [&](int64_t b) {
        if (!first) return;
        for (int64_t l = b * per_block; l < std::min(lines, (b + 1) * per_block); ++l) {
          if (prefetch_near) _mm_prefetch(near + l * 64, _MM_HINT_T0);
          if (prefetch_far) _mm_prefetch(far + l * 64, _MM_HINT_T1);
        }
      };
      PODSERVE_AMX_DECODE_BLOCK(0, 2, 4, act_tile(0), a_stride, weights(0));
      for (int64_t b = 0; b < blocks; b += 2) {
        prefetch(b);
        prefetch(b + 1);
        const bool has_next = b + 1 < blocks;
        if (has_next) PODSERVE_AMX_DECODE_BLOCK(1, 3, 5, act_tile(b + 1), a_stride, weights(b + 1));
        _tile_stored(0, c[0], 64);
        scale_block(b, c[0]);
        if (!has_next) break;
        if (b + 2 < blocks) PODSERVE_AMX_DECODE_BLOCK(0, 2, 4, act_tile(b + 2), a_stride, weights(b + 2));
        _tile_stored(1, c[1], 64);
        scale_block(b + 1, c[1]);
      }
      for (int64_t t = 0; t < tokens; ++t) _mm512_storeu_ps(y + (t0 + t) * w.rows + r0, acc[t]);
    }
  }
  _tile_release();
}

}  // namespace

bool amx_decode_supports(DType weight_type) {
  return weight_type == DType::kQ8_0 || weight_type == DType::kQ4_0 || weight_type == DType::kQ4_1;
}

void gemm_rows_amx_decode(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end,
                          float* y) {
  PODSERVE_CHECK(n >= 1 && n <= kAmxDecodeMaxTokens) << "amx decode gemm: " << n << " tokens";
  const int64_t amx_end = row_begin + (row_end - row_begin) / 16 * 16;
  if (row_begin < amx_end) {
    switch (w.type) {
      case DType::kQ8_0: gemm_rows<DType::kQ8_0>(w, acts, n, row_begin, amx_end, y); break;
      case DType::kQ4_0: gemm_rows<DType::kQ4_0>(w, acts, n, row_begin, amx_end, y); break;
      case DType::kQ4_1: gemm_rows<DType::kQ4_1>(w, acts, n, row_begin, amx_end, y); break;
      default: return gemm_rows_avx512(w, acts, n, row_begin, row_end, y);  // Q5_0, Q5_1
    }
  }
  if (amx_end < row_end) gemm_rows_avx512(w, acts, n, amx_end, row_end, y);
}

}  // namespace podserve::kernels::gemm
