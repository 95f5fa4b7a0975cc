// AMX-INT8 prefill path of the K-quant GEMM (Q4_K, Q5_K, Q6_K; quant_gemm_k.h), compiled with AMX/AVX-512 flags; callers
// check cpu::active_isa() >= kAmx. Per 32-wide sub-block j one tdpbusd gives the exact int32 dot products of
// 16 weight rows (unpacked once per 16-row group to u8) x 16 tokens; AVX-512 then accumulates sc_j * dot_j and
// m_j * asum_j in int32 (exact; Q6_K: 16-wide sub-blocks, sc_j * (dot_j - 32 * asum_j)) and applies the super-block's float steps, the same as quant_gemm_k_impl.inc's,
// so a token's outputs are the same bits as on the AVX2/VNNI/scalar paths.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/quant_gemm_amx_tiles.h"
#include "kernels/cpu/quant_gemm_k.h"

namespace podserve::kernels::gemm {
namespace {

// Tiles: 0 = C (16 rows x 16 tokens int32), 1 = A (16 weight rows x 32 u8), 2 = B (8 x 16 tokens x 4 s8);
// Q6_K's 16-wide sub-blocks: 3 = A (16 rows x 16 u8), 4 = B (4 x 16 tokens x 4 s8: half of a 32-wide B tile).
void configure_tiles() {
  amx::TileConfig cfg;
  cfg.set(0, 16, 64);
  cfg.set(1, 16, 32);
  cfg.set(2, 8, 64);
  cfg.set(3, 16, 16);
  cfg.set(4, 4, 64);
  amx::load_tile_config(cfg);
}

float half_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return _cvtsh_ss(v);
}

// One 16-row group: u8 q[16][cols] in element order, per (super-block, sub-block) scales and mins [.][16], per
// super-block d and dmin [.][16].
struct UnpackedKRows {
  std::vector<uint8_t> q;
  std::vector<int32_t> sc, m;
  std::vector<float> d, dmin;
};

// Q6_K: q in 0..63 in element order, the 16 int8 scales per super-block as sc[(b * 16 + j) * 16 + r], d.
void unpack_rows_q6(const MatrixView& w, int64_t r0, UnpackedKRows* out) {
  const int64_t blocks = w.cols / 256;
  out->q.resize(static_cast<size_t>(16 * w.cols));
  out->sc.resize(static_cast<size_t>(blocks * 16 * 16));
  out->d.resize(static_cast<size_t>(blocks * 16));
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
  for (int r = 0; r < 16; ++r) {
    const uint8_t* row = w.row(r0 + r);
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* wb = row + b * 210;
      out->d[b * 16 + r] = half_at(wb + 208);
      for (int j = 0; j < 16; ++j) out->sc[(b * 16 + j) * 16 + r] = static_cast<int8_t>(wb[192 + j]);
      uint8_t* dst = out->q.data() + r * w.cols + b * 256;
      for (int h = 0; h < 2; ++h) {
        const __m256i ql_a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 64 * h));
        const __m256i ql_b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 128 + 32 * h));
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql_a, low4), _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4)),
            _mm256_or_si256(_mm256_and_si256(ql_b, low4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), low4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), low4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4))};
        for (int k = 0; k < 4; ++k) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 128 * h + 32 * k), q[k]);
      }
    }
  }
}

void unpack_rows(const MatrixView& w, int64_t r0, UnpackedKRows* out) {
  const int64_t blocks = w.cols / 256, bytes = dtype_block_bytes(w.type);
  const bool five = w.type == DType::kQ5_K;
  out->q.resize(static_cast<size_t>(16 * w.cols));
  out->sc.resize(static_cast<size_t>(blocks * 8 * 16));
  out->m.resize(static_cast<size_t>(blocks * 8 * 16));
  out->d.resize(static_cast<size_t>(blocks * 16));
  out->dmin.resize(static_cast<size_t>(blocks * 16));
  for (int r = 0; r < 16; ++r) {
    const uint8_t* row = w.row(r0 + r);
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* wb = row + b * bytes;
      out->d[b * 16 + r] = half_at(wb);
      out->dmin[b * 16 + r] = half_at(wb + 2);
      for (int j = 0; j < 8; ++j) {
        int sc = 0, m = 0;
        scale_min_k4(j, wb + 4, &sc, &m);
        out->sc[(b * 8 + j) * 16 + r] = sc;
        out->m[(b * 8 + j) * 16 + r] = m;
      }
      const uint8_t* qs = wb + (five ? 48 : 16);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 16));
      uint8_t* dst = out->q.data() + r * w.cols + b * 256;
      for (int c = 0; c < 4; ++c) {
        const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
        __m256i lo = _mm256_and_si256(packed, _mm256_set1_epi8(0x0F));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), _mm256_set1_epi8(0x0F));
        if (five) {
          const __m256i bit = _mm256_set1_epi8(0x10);
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c), 4), bit));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c + 1), 4), bit));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * c), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * c + 32), hi);
      }
    }
  }
}

}  // namespace

bool supports_k_amx(DType weight_type) { return supports_k(weight_type); }

void pack_acts_k_amx(const KActBlock* acts, int64_t n, int64_t blocks, AmxKActs* out) {
  const int64_t groups = (n + 15) / 16;
  out->groups = groups;
  out->blocks = blocks;
  out->q.assign(static_cast<size_t>(groups * blocks * 8 * 512), 0);
  out->d.assign(static_cast<size_t>(groups * blocks * 16), 0.0f);
  out->asum.assign(static_cast<size_t>(groups * blocks * 8 * 16), 0);
  out->bsum.assign(static_cast<size_t>(groups * blocks * 16 * 16), 0);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t g = t / 16, lane = t % 16;
    for (int64_t b = 0; b < blocks; ++b) {
      const KActBlock& a = acts[t * blocks + b];
      const int64_t gb = g * blocks + b;
      out->d[gb * 16 + lane] = a.d;
      for (int j = 0; j < 8; ++j) {
        int8_t* tile = out->q.data() + (gb * 8 + j) * 512;
        for (int k4 = 0; k4 < 8; ++k4) std::memcpy(tile + k4 * 64 + lane * 4, a.qs + 32 * j + 4 * k4, 4);
        out->asum[(gb * 8 + j) * 16 + lane] = a.bsums[2 * j] + a.bsums[2 * j + 1];
        out->bsum[(gb * 16 + 2 * j) * 16 + lane] = a.bsums[2 * j];
        out->bsum[(gb * 16 + 2 * j + 1) * 16 + lane] = a.bsums[2 * j + 1];
      }
    }
  }
}

void gemm_k_rows_amx(const MatrixView& w, const AmxKActs& a, int64_t n, int64_t row_begin, int64_t row_end, float* y) {
  PODSERVE_CHECK(row_begin % 16 == 0 && row_end % 16 == 0 && supports_k_amx(w.type));
  const int64_t blocks = w.cols / 256;
  static thread_local UnpackedKRows rows;
  configure_tiles();
  alignas(64) int32_t c[16][16];
  alignas(64) float out[16][16];
  const bool q6 = w.type == DType::kQ6_K;
  for (int64_t r0 = row_begin; r0 < row_end; r0 += 16) {
    if (q6) {
      unpack_rows_q6(w, r0, &rows);
    } else {
      unpack_rows(w, r0, &rows);
    }
    for (int64_t g = 0; g < a.groups; ++g) {
      __m512 acc[16];
      for (auto& v : acc) v = _mm512_setzero_ps();
      for (int64_t b = 0; b < blocks && q6; ++b) {  // Q6_K: sum_j sc_j * (dot_j - 32 * asum_j), then one fma
        const int64_t gb = g * blocks + b;
        __m512i isum[16];
        for (auto& v : isum) v = _mm512_setzero_si512();
        for (int j = 0; j < 16; ++j) {
          _tile_zero(0);
          _tile_loadd(3, rows.q.data() + b * 256 + 16 * j, static_cast<int>(w.cols));
          _tile_loadd(4, a.q.data() + (gb * 8 + j / 2) * 512 + (j % 2) * 256, 64);  // rows k/4 = 4(j%2)..+3
          _tile_dpbusd(0, 3, 4);
          _tile_stored(0, c, 64);
          const __m512i off = _mm512_slli_epi32(_mm512_loadu_si512(a.bsum.data() + (gb * 16 + j) * 16), 5);
          const int32_t* sc = rows.sc.data() + (b * 16 + j) * 16;
          for (int r = 0; r < 16; ++r) {
            const __m512i dot = _mm512_sub_epi32(_mm512_load_si512(c[r]), off);
            isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(dot, _mm512_set1_epi32(sc[r])));
          }
        }
        const __m512 da = _mm512_loadu_ps(a.d.data() + gb * 16);
        for (int r = 0; r < 16; ++r) {
          acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(_mm512_set1_ps(rows.d[b * 16 + r]), da), acc[r]);
        }
      }
      for (int64_t b = 0; b < blocks && !q6; ++b) {
        const int64_t gb = g * blocks + b;
        __m512i isum[16], msum[16];
        for (int r = 0; r < 16; ++r) isum[r] = _mm512_setzero_si512(), msum[r] = _mm512_setzero_si512();
        for (int j = 0; j < 8; ++j) {
          _tile_zero(0);
          _tile_loadd(1, rows.q.data() + b * 256 + 32 * j, static_cast<int>(w.cols));
          _tile_loadd(2, a.q.data() + (gb * 8 + j) * 512, 64);
          _tile_dpbusd(0, 1, 2);
          _tile_stored(0, c, 64);
          const __m512i asum = _mm512_loadu_si512(a.asum.data() + (gb * 8 + j) * 16);
          const int32_t* sc = rows.sc.data() + (b * 8 + j) * 16;
          const int32_t* m = rows.m.data() + (b * 8 + j) * 16;
          for (int r = 0; r < 16; ++r) {
            isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(_mm512_load_si512(c[r]), _mm512_set1_epi32(sc[r])));
            msum[r] = _mm512_add_epi32(msum[r], _mm512_mullo_epi32(asum, _mm512_set1_epi32(m[r])));
          }
        }
        const __m512 da = _mm512_loadu_ps(a.d.data() + gb * 16);
        for (int r = 0; r < 16; ++r) {
          acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(_mm512_set1_ps(rows.d[b * 16 + r]), da), acc[r]);
          acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[r]), _mm512_mul_ps(_mm512_set1_ps(rows.dmin[b * 16 + r]), da),
                                    acc[r]);
        }
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
