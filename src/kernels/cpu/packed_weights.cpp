// The packer of packed_weights.h (portable; runs once per matrix at load).
#include "kernels/cpu/packed_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/check.h"
#include "base/thread_pool.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm_k.h"

namespace podserve::kernels::gemm {
namespace {

// Where a file block's parts start: fp16 d, fp16 min (-1: none), qh (-1: none), qs.
struct Parts {
  int d, m, qh, qs;
};
Parts parts_of(DType t) {
  switch (t) {
    case DType::kQ8_0: return {0, -1, -1, 2};
    case DType::kQ4_0: return {0, -1, -1, 2};
    case DType::kQ4_1: return {0, 2, -1, 4};
    case DType::kQ5_0: return {0, -1, 2, 6};
    case DType::kQ5_1: return {0, 2, 4, 8};
    default: return {-1, -1, -1, -1};
  }
}

// One group's block of the 32-weight formats; rows[j] is row j's file block (null: a zero row).
void pack_block32(DType t, const uint8_t* const* rows, uint8_t* out) {
  const Parts p = parts_of(t);
  std::memset(out, 0, static_cast<size_t>(group_block_bytes(t)));
  uint8_t* o = out;
  for (int j = 0; j < kPackRows; ++j) {
    if (rows[j] != nullptr) std::memcpy(o + 2 * j, rows[j] + p.d, 2);
  }
  o += 16;
  if (p.m >= 0) {
    for (int j = 0; j < kPackRows; ++j) {
      if (rows[j] != nullptr) std::memcpy(o + 2 * j, rows[j] + p.m, 2);
    }
    o += 16;
  }
  if (p.qh >= 0) {  // qh[c][row]: bits i and 4 + i = the fifth bits of weights 4c + i and 16 + 4c + i
    for (int j = 0; j < kPackRows; ++j) {
      if (rows[j] == nullptr) continue;
      uint32_t qh;
      std::memcpy(&qh, rows[j] + p.qh, 4);
      for (int c = 0; c < 4; ++c) {
        const uint32_t lo = (qh >> (4 * c)) & 0xfu, hi = (qh >> (16 + 4 * c)) & 0xfu;
        o[8 * c + j] = static_cast<uint8_t>(lo | hi << 4);
      }
    }
    o += 32;
  }
  const int quads = t == DType::kQ8_0 ? 8 : 4;  // 4-byte pieces of a row's qs
  for (int k = 0; k < quads; ++k) {
    for (int j = 0; j < kPackRows; ++j) {
      if (rows[j] != nullptr) std::memcpy(o + 32 * k + 4 * j, rows[j] + p.qs + 4 * k, 4);
    }
  }
}

// Q4_K/Q5_K (packed_weights.h): d, dmin, scale and min pairs, (Q5_K) fifth bits, quants.
void pack_block_k4(DType t, const uint8_t* const* rows, uint8_t* out) {
  const bool five = t == DType::kQ5_K;
  std::memset(out, 0, static_cast<size_t>(group_block_bytes(t)));
  uint8_t* sc = out + 32;
  uint8_t* mins = out + 96;
  uint8_t* qh = out + 160;
  uint8_t* qs = out + (five ? 416 : 160);
  for (int j = 0; j < kPackRows; ++j) {
    const uint8_t* wb = rows[j];
    if (wb == nullptr) continue;
    std::memcpy(out + 2 * j, wb, 2);
    std::memcpy(out + 16 + 2 * j, wb + 2, 2);
    for (int s = 0; s < 8; ++s) {
      int scale = 0, min = 0;
      scale_min_k4(s, wb + 4, &scale, &min);
      sc[16 * (s / 2) + 2 * j + s % 2] = static_cast<uint8_t>(scale);
      mins[16 * (s / 2) + 2 * j + s % 2] = static_cast<uint8_t>(min);
    }
    const uint8_t* file_qh = wb + 16;
    const uint8_t* file_qs = wb + (five ? 48 : 16);
    for (int c = 0; c < 4; ++c) {
      for (int q = 0; q < 8; ++q) {
        std::memcpy(qs + 256 * c + 32 * q + 4 * j, file_qs + 32 * c + 4 * q, 4);
        if (!five) continue;
        uint8_t bits = 0;  // bit i: weight 4q + i of sub-block 2c; bit 4 + i: of sub-block 2c + 1
        for (int i = 0; i < 4; ++i) {
          bits |= static_cast<uint8_t>(((file_qh[4 * q + i] >> (2 * c)) & 1) << i);
          bits |= static_cast<uint8_t>(((file_qh[4 * q + i] >> (2 * c + 1)) & 1) << (4 + i));
        }
        qh[64 * c + 8 * q + j] = bits;
      }
    }
  }
}

// Q6_K (packed_weights.h): d, scale pairs, then per (half, quad) the three vectors A, B, C.
void pack_block_q6k(const uint8_t* const* rows, uint8_t* out) {
  std::memset(out, 0, static_cast<size_t>(group_block_bytes(DType::kQ6_K)));
  for (int j = 0; j < kPackRows; ++j) {
    const uint8_t* wb = rows[j];
    if (wb == nullptr) continue;
    std::memcpy(out + 2 * j, wb + 208, 2);
    for (int s = 0; s < 16; ++s) out[16 + 16 * (s / 2) + 2 * j + s % 2] = wb[192 + s];
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {  // the 6-bit weights 128h + l + 32k, k = 0..3
        const uint8_t lo_a = wb[64 * h + l], lo_b = wb[64 * h + 32 + l], hi = wb[128 + 32 * h + l];
        const int q0 = (lo_a & 0x0f) | (hi & 3) << 4, q1 = (lo_b & 0x0f) | ((hi >> 2) & 3) << 4;
        const int q2 = (lo_a >> 4) | ((hi >> 4) & 3) << 4, q3 = (lo_b >> 4) | ((hi >> 6) & 3) << 4;
        uint8_t* v = out + 144 + 96 * (8 * h + l / 4) + 4 * j + l % 4;
        v[0] = static_cast<uint8_t>(q0 | (q2 & 3) << 6);
        v[32] = static_cast<uint8_t>(q1 | (q3 & 3) << 6);
        v[64] = static_cast<uint8_t>((q2 >> 2) | (q3 >> 2) << 4);
      }
    }
  }
}

}  // namespace

bool packs(DType type) {
  return type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ4_1 || type == DType::kQ5_0 ||
         type == DType::kQ5_1 || supports_k(type);
}

int64_t group_block_bytes(DType type) {
  switch (type) {  // the K-quants' scales are stored unpacked (Q4_K/Q5_K: 4 bytes more per row)
    case DType::kQ4_K: return 1184;
    case DType::kQ5_K: return 1440;
    default: return kPackRows * static_cast<int64_t>(dtype_block_bytes(type));
  }
}

size_t packed_bytes(const MatrixView& w) {
  const int64_t groups = (w.rows + kPackRows - 1) / kPackRows;
  return static_cast<size_t>(groups * (w.cols / dtype_block_size(w.type)) * group_block_bytes(w.type));
}

void pack_groups(const MatrixView& w, int64_t g_begin, int64_t g_end, uint8_t* out) {
  PODSERVE_CHECK(packs(w.type)) << "pack_groups: no packed layout for " << dtype_name(w.type);
  const int64_t blocks = w.cols / dtype_block_size(w.type), block_bytes = dtype_block_bytes(w.type);
  const int64_t gbytes = group_block_bytes(w.type);
  const uint8_t* rows[kPackRows];
  for (int64_t g = g_begin; g < g_end; ++g) {
    for (int64_t b = 0; b < blocks; ++b) {
      for (int j = 0; j < kPackRows; ++j) {
        const int64_t r = g * kPackRows + j;
        rows[j] = r < w.rows ? w.row(r) + b * block_bytes : nullptr;
      }
      uint8_t* o = out + (g * blocks + b) * gbytes;
      if (w.type == DType::kQ6_K) {
        pack_block_q6k(rows, o);
      } else if (supports_k(w.type)) {
        pack_block_k4(w.type, rows, o);
      } else {
        pack_block32(w.type, rows, o);
      }
    }
  }
}

}  // namespace podserve::kernels::gemm

namespace podserve::kernels::cpu {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kRegionBytes = 32 * kHugePage;  // small matrices share regions; at most one region's tail is spare
}  // namespace

PackedWeights::~PackedWeights() {
  for (const Region& r : regions_) ::munmap(r.base, r.size);
}

uint8_t* PackedWeights::allocate(size_t n) {
  n = (n + 63) / 64 * 64;
  if (regions_.empty() || regions_.back().size - regions_.back().used < n) {
    const size_t size = std::max(kRegionBytes, (n + kHugePage - 1) / kHugePage * kHugePage);
    // Over-map by a huge page so the region can start on a 2 MiB boundary (THP backs only aligned 2 MiB spans).
    void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    PODSERVE_CHECK(raw != MAP_FAILED) << "packed weights: cannot map " << size << " bytes";
    auto* base = static_cast<uint8_t*>(raw);
    auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) / kHugePage * kHugePage);
    if (aligned > base) ::munmap(base, static_cast<size_t>(aligned - base));
    const size_t tail = static_cast<size_t>(base + size + kHugePage - (aligned + size));
    if (tail > 0) ::munmap(aligned + size, tail);
#ifdef MADV_HUGEPAGE
    ::madvise(aligned, size, MADV_HUGEPAGE);  // a hint: without THP the region keeps 4 KiB pages
#endif
    regions_.push_back({aligned, size, 0});
  }
  Region& r = regions_.back();
  uint8_t* p = r.base + r.used;
  r.used += n;
  return p;
}

void PackedWeights::pack(MatrixView* w, ThreadPool* pool) {
  if (active_isa() != Isa::kAvx2 || !gemm::packs(w->type) || w->rows <= 0) return;
  const size_t n = gemm::packed_bytes(*w);
  uint8_t* out = allocate(n);
  const MatrixView src = *w;
  pool->parallel_for((w->rows + gemm::kPackRows - 1) / gemm::kPackRows,
                     [&](int64_t begin, int64_t end) { gemm::pack_groups(src, begin, end, out); });
  w->packed = out;
  bytes_ += n;
}

}  // namespace podserve::kernels::cpu
