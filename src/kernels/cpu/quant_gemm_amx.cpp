// AMX-INT8 build of the quantized GEMM for prefill (n >= 16 tokens), compiled with AMX/AVX-512 flags; callers
// check amx_usable(). One tdpbusd multiplies a 16-row x 32 weight tile (one quant block, unpacked to u8) by the
// 32 x 16-token activation tile, giving the exact int32 block dot products of 16 rows x 16 tokens; AVX-512 then
// applies the per-block scales (and the unsigned-bias corrections, as in quant_gemm_impl.inc) to 16 float
// accumulators, one per row with the 16 tokens in its lanes. Weight rows are unpacked once per 16-row group and
// reused for every token group.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/cpu/quant_gemm_amx_tiles.h"

namespace podserve::kernels::gemm {
namespace {

constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;


// Starts one block's 16 x 16 integer product in tile C (weights through tile A, activations through B). A macro:
// GCC's tile intrinsics paste the tile number into the assembly text, so it must be a literal.
#define PODSERVE_AMX_ISSUE_BLOCK(C, A, B, weights, stride, acts) \
  do {                                                           \
    _tile_zero(C);                                               \
    _tile_loadd(A, weights, static_cast<int>(stride));           \
    _tile_loadd(B, acts, 64);                                    \
    _tile_dpbusd(C, A, B);                                       \
  } while (0)

float half_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return _cvtsh_ss(v);
}

// One 16-row group of weights as the tile wants them: u8[16][cols] plus per-block scales [blocks][16].
struct UnpackedRows {
  std::vector<uint8_t> q;
  std::vector<float> d, m;
};

void unpack_rows(const MatrixView& w, int64_t r0, UnpackedRows* out) {
  const int64_t blocks = w.cols / 32;
  out->q.resize(static_cast<size_t>(16 * w.cols));
  out->d.resize(static_cast<size_t>(16 * blocks));
  out->m.resize(static_cast<size_t>(16 * blocks));
  for (int r = 0; r < 16; ++r) {
    const uint8_t* row = w.row(r0 + r);
    uint8_t* dst = out->q.data() + r * w.cols;
    for (int64_t b = 0; b < blocks; ++b, dst += 32) {
      switch (w.type) {
        case DType::kQ8_0: {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 34 + 2));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))));
          out->d[b * 16 + r] = half_at(row + b * 34);
          break;
        }
        case DType::kQ4_0:
        case DType::kQ4_1: {
          const int64_t bytes = w.type == DType::kQ4_0 ? 18 : 20, qs = w.type == DType::kQ4_0 ? 2 : 4;
          const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + b * bytes + qs));
          const __m128i lo = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
          const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_set_m128i(hi, lo));
          out->d[b * 16 + r] = half_at(row + b * bytes);
          out->m[b * 16 + r] = w.type == DType::kQ4_1 ? half_at(row + b * bytes + 2) : 0.0f;
          break;
        }
        case DType::kQ5_0:
        case DType::kQ5_1: {  // 5-bit q in 0..31 (Q5_0's -16 is the bias correction below)
          const bool q5_1 = w.type == DType::kQ5_1;
          const uint8_t* block = row + b * (q5_1 ? 24 : 22);
          uint32_t qh;
          std::memcpy(&qh, block + (q5_1 ? 4 : 2), 4);
          const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + (q5_1 ? 8 : 6)));
          const __m128i lo = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
          const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
          const __m256i high_bits = _mm256_maskz_set1_epi8(static_cast<__mmask32>(qh), 0x10);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_or_si256(_mm256_set_m128i(hi, lo), high_bits));
          out->d[b * 16 + r] = half_at(block);
          out->m[b * 16 + r] = q5_1 ? half_at(block + 2) : 0.0f;
          break;
        }
        default:
          PODSERVE_CHECK(false) << "amx gemm: unsupported weight type " << dtype_name(w.type);
      }
    }
  }
}

}  // namespace

bool amx_usable() {
  static const bool kUsable = [] {
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !cpu::cpu_has_f16c()) {
      return false;
    }
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    if (((edx >> 24) & 1u) == 0 || ((edx >> 25) & 1u) == 0) return false;  // AMX-TILE, AMX-INT8
    // Linux hands out the tile state only on request (per process); a kernel without AMX support refuses.
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return kUsable;
}

void size_acts_amx(int64_t n, int64_t blocks, AmxActs* out) {
  const int64_t groups = (n + 15) / 16;
  out->groups = groups;
  out->blocks = blocks;
  out->q.resize(static_cast<size_t>(groups * blocks * 512));
  out->d.resize(static_cast<size_t>(groups * blocks * 16));
  out->s.resize(static_cast<size_t>(groups * blocks * 16));
  out->sum.resize(static_cast<size_t>(groups * blocks * 16));
}

void pack_acts_amx_groups(const ActBlock* acts, int64_t n, int64_t g_begin, int64_t g_end, AmxActs* out) {
  const int64_t blocks = out->blocks;
  for (int64_t g = g_begin; g < g_end; ++g) {
    for (int64_t lane = 0; lane < 16; ++lane) {
      const int64_t t = g * 16 + lane;
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t gb = g * blocks + b;
        int8_t* tile = out->q.data() + gb * 512;
        if (t >= n) {  // padding lanes of the last group: zero (their outputs are never stored)
          for (int k4 = 0; k4 < 8; ++k4) std::memset(tile + k4 * 64 + lane * 4, 0, 4);
          out->d[gb * 16 + lane] = out->s[gb * 16 + lane] = 0.0f;
          out->sum[gb * 16 + lane] = 0;
          continue;
        }
        const ActBlock& a = acts[t * blocks + b];
        int32_t sum = 0;
        for (int k4 = 0; k4 < 8; ++k4) {
          std::memcpy(tile + k4 * 64 + lane * 4, a.qs + k4 * 4, 4);  // VNNI layout: B[k/4][token*4 + k%4]
          sum += a.lane_sum[k4];
        }
        out->d[gb * 16 + lane] = a.d;
        out->s[gb * 16 + lane] = a.s;
        out->sum[gb * 16 + lane] = sum;
      }
    }
  }
}

void pack_acts_amx(const ActBlock* acts, int64_t n, int64_t blocks, AmxActs* out) {
  size_acts_amx(n, blocks, out);
  pack_acts_amx_groups(acts, n, 0, out->groups, out);
}

void gemm_rows_amx(const MatrixView& w, const AmxActs& a, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  PODSERVE_CHECK(row_begin % 16 == 0 && row_end % 16 == 0);
  const int64_t blocks = w.cols / 32;
  const int bias_shift = w.type == DType::kQ8_0   ? 7
                         : w.type == DType::kQ4_0 ? 3
                         : w.type == DType::kQ5_0 ? 4
                                                  : -1;  // bias 128, 8, 16, none
  const bool has_min = w.type == DType::kQ4_1 || w.type == DType::kQ5_1;
  static thread_local UnpackedRows rows;
  // Tiles: C = 16 rows x 16 tokens int32, A = 16 weight rows x 32 u8, B = 8 x 16 tokens x 4 s8 (two sets each).
  amx::load_double_buffered_tiles(16);
  alignas(64) int32_t c[2][16][16];
  alignas(64) float out[16][16];
  for (int64_t r0 = row_begin; r0 < row_end; r0 += 16) {
    unpack_rows(w, r0, &rows);
    for (int64_t g = 0; g < a.groups; ++g) {
      __m512 acc[16];
      for (auto& v : acc) v = _mm512_setzero_ps();
      // Scales block b's products into acc, in block order (the float steps every path shares).
      auto scale_block = [&](int64_t b, const int32_t (*prod)[16]) {
        const int64_t gb = g * blocks + b;
        const __m512 da = _mm512_loadu_ps(a.d.data() + gb * 16);
        const __m512 sa = _mm512_loadu_ps(a.s.data() + gb * 16);
        __m512i corr = _mm512_setzero_si512();
        if (bias_shift >= 0) corr = _mm512_slli_epi32(_mm512_loadu_si512(a.sum.data() + gb * 16), static_cast<unsigned>(bias_shift));
        const float* dw = rows.d.data() + b * 16;
        const float* mw = rows.m.data() + b * 16;
        for (int r = 0; r < 16; ++r) {
          const __m512i dot = _mm512_sub_epi32(_mm512_load_si512(prod[r]), corr);
          acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(_mm512_set1_ps(dw[r]), da), acc[r]);
          if (has_min) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(mw[r]), sa, acc[r]);
        }
      };
      const int8_t* group_acts = a.q.data() + g * blocks * 512;
      PODSERVE_AMX_ISSUE_BLOCK(0, 2, 4, rows.q.data(), w.cols, group_acts);
      for (int64_t b = 0; b < blocks; b += 2) {
        const bool has_next = b + 1 < blocks;
        if (has_next) PODSERVE_AMX_ISSUE_BLOCK(1, 3, 5, rows.q.data() + (b + 1) * 32, w.cols, group_acts + (b + 1) * 512);
        _tile_stored(0, c[0], 64);
        scale_block(b, c[0]);
        if (!has_next) break;
        if (b + 2 < blocks) PODSERVE_AMX_ISSUE_BLOCK(0, 2, 4, rows.q.data() + (b + 2) * 32, w.cols, group_acts + (b + 2) * 512);
        _tile_stored(1, c[1], 64);
        scale_block(b + 1, c[1]);
      }
      for (int r = 0; r < 16; ++r) _mm512_store_ps(out[r], acc[r]);
      const int64_t tokens = std::min<int64_t>(16, n - g * 16);
      for (int64_t t = 0; t < tokens; ++t) {
        float* yt = y + (g * 16 + t) * w.rows + r0;
        for (int r = 0; r < 16; ++r) yt[r] = out[r][t];
      }
    }
  }
  _tile_release();
}

}  // namespace podserve::kernels::gemm
