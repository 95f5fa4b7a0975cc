// Quantized weights repacked at load into row groups for the AVX2 kernels (quant_gemm_x8_avx2.cpp,
// quant_gemm_k_x8_avx2.cpp). In the file's layout each row holds its own blocks, so a SIMD dot product of one row
// ends in a horizontal sum per block and each row's scales sit in a different cache line. Here the 8 rows of a
// group are interleaved block by block, so one 32-byte vector holds 4 consecutive weights of each of the 8 rows
// (int32 lane j = row j): a dot product against 4 activation bytes broadcast to every lane leaves row j's sum in
// lane j, and the 8 rows' scales are one 16-byte load. The same bytes as the file (no extra bandwidth), the same
// integers and the same float steps as every other path (quant_gemm.h, quant_gemm_k.h), so the bits do not change.
//
// Group g = rows 8g .. 8g+7 (rows past the matrix are zero), block b of the row, at packed + (g * blocks + b) *
// group_block_bytes(type). Within it (a "quad" is 4 consecutive weights of one row; lanes are rows 0..7):
//   Q8_0: d[8] (fp16), then quads k = 0..7 (weights 4k..4k+3) as 8 x 32 bytes: [k][row][4]
//   Q4_0: d[8], then 4 x 32 bytes [c][row][4] = the file's qs bytes 4c..4c+3: low nibbles are weights
//         4c..4c+3, high nibbles weights 16+4c..16+4c+3
//   Q4_1: d[8], m[8], then as Q4_0
//   Q5_0: d[8], qh[4][8], then as Q4_0; qh[c][row] bit i (0..3) is the fifth bit of weight 4c+i, bit 4+i that of
//         weight 16+4c+i
//   Q5_1: d[8], m[8], qh[4][8], then as Q4_0
//   Q4_K (256-weight super-blocks): d[8], dmin[8] (fp16), scale pairs [4][row][2] = (sc 2c, sc 2c+1) and min
//         pairs [4][row][2] (the 6-bit values unpacked to bytes: 4 bytes more per row), then per 64 weights
//         c = 0..3 and quad q = 0..7 a 32-byte vector [row][4] = the file's qs bytes 32c+4q..+3 (low nibbles:
//         weights 64c+4q+i of sub-block 2c, high: 64c+32+4q+i of sub-block 2c+1)
//   Q5_K: as Q4_K with qh[4][8][row] before the quants (bits i / 4+i: fifth bits of the low / high nibbles)
//   Q6_K: d[8], scale pairs [8][row][2] (signed), then per half h = 0..1 and quad q = 0..7 three 32-byte vectors
//         A, B, C [row][4] holding the 6-bit weights w_k = 128h + 32k + 4q + i (k = 0..3) of each row as
//         A = w_0 | (w_2 & 3) << 6, B = w_1 | (w_3 & 3) << 6, C = w_2 >> 2 | (w_3 >> 2) << 4 (cheaper to split than
//         the file's nibble and 2-bit planes)
// A view with a packed copy (MatrixView::packed) keeps its file layout too: the other paths and the embedding
// lookup read that one.
#pragma once

#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "kernels/ops.h"

namespace podserve {
class ThreadPool;
}

namespace podserve::kernels::gemm {

inline constexpr int64_t kPackRows = 8;  // rows per group

/// Whether `type` has a packed layout.
bool packs(DType type);
/// Bytes of one group's block b (the 8 rows' blocks b).
int64_t group_block_bytes(DType type);
/// Bytes of the packed copy of w.
size_t packed_bytes(const MatrixView& w);
/// Writes groups [g_begin, g_end) of w (file layout) packed into out (packed_bytes(w) bytes for all groups).
void pack_groups(const MatrixView& w, int64_t g_begin, int64_t g_end, uint8_t* out);

}  // namespace podserve::kernels::gemm

namespace podserve::kernels::cpu {

/// Owns a model's packed weight copies. pack() gives a view a packed copy when this process's matmul path reads
/// one (the active path is AVX2; see isa.h: PODSERVE_ISA=avx2 on a larger CPU packs too), else leaves it alone.
/// The copies live in a few large regions on transparent huge pages (a hint: with THP in `madvise` mode, the
/// common default, plain allocations get 4 KiB pages, and decode, which streams every weight once per token,
/// then pays a TLB miss and a stop of the hardware prefetcher at every 4 KiB).
class PackedWeights {
 public:
  PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights();

  /// Packs *w (its groups split over `pool`) and points w->packed at the copy.
  void pack(MatrixView* w, ThreadPool* pool);
  size_t bytes() const { return bytes_; }

 private:
  uint8_t* allocate(size_t n);  // 64-byte aligned, from the current region or a new one

  struct Region {
    uint8_t* base;
    size_t size, used;
  };
  std::vector<Region> regions_;
  size_t bytes_ = 0;
};

}  // namespace podserve::kernels::cpu
