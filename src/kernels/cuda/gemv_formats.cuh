// Weight formats for the decode GEMV: how one thread loads a chunk of a row (its raw bytes, with the widest loads
// the format's alignment allows) and decodes it 8 elements at a time. A chunk's weights are w_i = a * q_i + b,
// so the GEMV sums q_i * x_i (and x_i when b != 0) and applies a and b once per chunk.
//   Float formats: chunks of 8 elements, q = the values, a = 1, b = 0.
//   Q8_0/Q4_0/Q4_1/Q5_0/Q5_1: a chunk is a 32-element block, a = d, b = m (Q4_1/Q5_1) or 0.
//   Q4_K/Q5_K: a chunk is a 32-element sub-block, a = d * scale, b = -dmin * min.
//   Q6_K: a chunk is 32 elements of a 128-element half, q = scale * (q6 - 32) (exact integers), a = d.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace podserve::kernels::cuda::gemv_fmt {

// 16-bit little-endian words of a raw block; byte i of the block is byte i % 2 of word i / 2.
SIMT_DEVICE uint32_t byte_of(const uint16_t* h, int i) { return (h[i / 2] >> (8 * (i % 2))) & 0xFFu; }
SIMT_DEVICE uint32_t byte_of32(const uint32_t* w, int i) { return (w[i / 4] >> (8 * (i % 4))) & 0xFFu; }

template <int kWords>
SIMT_DEVICE void load_u16(const uint8_t* p, uint16_t (&out)[kWords]) {
  SIMT_UNROLL
  for (int i = 0; i < kWords; ++i) out[i] = simt::load<uint16_t>(p + 2 * i);
}
template <int kWords>
SIMT_DEVICE void load_u32(const uint8_t* p, uint32_t (&out)[kWords]) {
  SIMT_UNROLL
  for (int i = 0; i < kWords; ++i) out[i] = simt::load<uint32_t>(p + 4 * i);
}

// ---- float formats: 8 elements per chunk; `vec` says the rows allow 16-byte loads -----------------------------

struct F16 {
  static constexpr int kElems = 8, kRows = 4;
  static constexpr DType kType = DType::kF16;
  static constexpr bool kOffset = false;
  struct Raw { simt::U32x4 v; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool vec, int valid) {
    Raw r;
    const uint8_t* p = row + chunk * 16;
    if (vec && valid == 8) {
      r.v = simt::load16(p);
    } else {
      uint16_t h[8];
      SIMT_UNROLL
      for (int i = 0; i < 8; ++i) h[i] = i < valid ? simt::load<uint16_t>(p + 2 * i) : 0;
      r.v = simt::U32x4{h[0] | (uint32_t{h[1]} << 16), h[2] | (uint32_t{h[3]} << 16), h[4] | (uint32_t{h[5]} << 16),
                        h[6] | (uint32_t{h[7]} << 16)};
    }
    return r;
  }
  SIMT_DEVICE static void scales(const Raw&, int64_t, float& a, float& b) { a = 1.0f; b = 0.0f; }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int, float q[8]) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) {
      q[2 * i] = simt::f16_to_f32(simt::lo16(w[i]));
      q[2 * i + 1] = simt::f16_to_f32(simt::hi16(w[i]));
    }
  }
};

struct BF16 : F16 {
  static constexpr DType kType = DType::kBF16;
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int, float q[8]) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
    SIMT_UNROLL
    for (int i = 0; i < 4; ++i) {
      q[2 * i] = simt::bf16_to_f32(simt::lo16(w[i]));
      q[2 * i + 1] = simt::bf16_to_f32(simt::hi16(w[i]));
    }
  }
};

struct F32 {
  static constexpr int kElems = 8, kRows = 4;
  static constexpr DType kType = DType::kF32;
  static constexpr bool kOffset = false;
  struct Raw { simt::U32x4 lo, hi; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool vec, int valid) {
    Raw r;
    const uint8_t* p = row + chunk * 32;
    if (vec && valid == 8) {
      r.lo = simt::load16(p);
      r.hi = simt::load16(p + 16);
    } else {
      uint32_t w[8];
      SIMT_UNROLL
      for (int i = 0; i < 8; ++i) w[i] = i < valid ? simt::load<uint32_t>(p + 4 * i) : 0;
      r.lo = simt::U32x4{w[0], w[1], w[2], w[3]};
      r.hi = simt::U32x4{w[4], w[5], w[6], w[7]};
    }
    return r;
  }
  SIMT_DEVICE static void scales(const Raw&, int64_t, float& a, float& b) { a = 1.0f; b = 0.0f; }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int, float q[8]) {
    const uint32_t w[8] = {r.lo.x, r.lo.y, r.lo.z, r.lo.w, r.hi.x, r.hi.y, r.hi.z, r.hi.w};
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) q[i] = __uint_as_float(w[i]);
  }
};

// ---- 32-element blocks ------------------------------------------------------------------------------------------

// In Q4_0/Q4_1/Q5_x blocks the low nibbles of qs[0..16) are elements 0..15, the high ones 16..31.
struct Q8_0 {  // { half d; int8 qs[32]; } 34 bytes, 2-byte aligned
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ8_0;
  static constexpr bool kOffset = false;
  struct Raw { uint16_t h[17]; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    load_u16(row + chunk * 34, r.h);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(r.h[0]);
    b = 0.0f;
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int s, float q[8]) {
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) q[i] = static_cast<float>(static_cast<int8_t>(byte_of(r.h, 2 + 8 * s + i)));
  }
};

struct Q4_0 {  // { half d; uint8 qs[16]; } 18 bytes: q - 8
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ4_0;
  static constexpr bool kOffset = false;
  struct Raw { uint16_t h[9]; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    load_u16(row + chunk * 18, r.h);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(r.h[0]);
    b = 0.0f;
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int s, float q[8]) {
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t byte = byte_of(r.h, 2 + (8 * s + i) % 16);
      q[i] = static_cast<float>(static_cast<int>(s < 2 ? byte & 0x0Fu : byte >> 4) - 8);
    }
  }
};

struct Q4_1 {  // { half d; half m; uint8 qs[16]; } 20 bytes, 4-byte aligned: q * d + m
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ4_1;
  static constexpr bool kOffset = true;
  struct Raw { uint32_t w[5]; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    load_u32(row + chunk * 20, r.w);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(simt::lo16(r.w[0]));
    b = simt::f16_to_f32(simt::hi16(r.w[0]));
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int s, float q[8]) {
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t byte = byte_of32(r.w, 4 + (8 * s + i) % 16);
      q[i] = static_cast<float>(s < 2 ? byte & 0x0Fu : byte >> 4);
    }
  }
};

struct Q5_0 {  // { half d; uint8 qh[4]; uint8 qs[16]; } 22 bytes: (nibble | bit << 4) - 16
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ5_0;
  static constexpr bool kOffset = false;
  struct Raw { uint16_t h[11]; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    load_u16(row + chunk * 22, r.h);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(r.h[0]);
    b = 0.0f;
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int s, float q[8]) {
    const uint32_t qh = r.h[1] | (uint32_t{r.h[2]} << 16);
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int j = 8 * s + i;
      const uint32_t byte = byte_of(r.h, 6 + j % 16);
      const uint32_t v = (s < 2 ? byte & 0x0Fu : byte >> 4) | (((qh >> j) & 1u) << 4);
      q[i] = static_cast<float>(static_cast<int>(v) - 16);
    }
  }
};

struct Q5_1 {  // { half d; half m; uint8 qh[4]; uint8 qs[16]; } 24 bytes, 8-byte aligned: q * d + m
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ5_1;
  static constexpr bool kOffset = true;
  struct Raw { uint32_t w[6]; };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    load_u32(row + chunk * 24, r.w);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(simt::lo16(r.w[0]));
    b = simt::f16_to_f32(simt::hi16(r.w[0]));
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t, int s, float q[8]) {
    const uint32_t qh = r.w[1];
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int j = 8 * s + i;
      const uint32_t byte = byte_of32(r.w, 8 + j % 16);
      q[i] = static_cast<float>((s < 2 ? byte & 0x0Fu : byte >> 4) | (((qh >> j) & 1u) << 4));
    }
  }
};

// ---- K-quants: a chunk is one 32-element sub-block of a 256-element super-block --------------------------------

// Q4_K { half d, dmin; uint8 scales[12]; uint8 qs[128]; } 144 bytes (16-byte aligned), Q5_K adds qh[32] after the
// scales (176 bytes). Sub-block sb = 2c + hi reads qs[32c .. 32c + 32), low nibbles (hi = 0) or high ones.
template <bool kFive>
struct QK4 {
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = kFive ? DType::kQ5_K : DType::kQ4_K;
  static constexpr bool kOffset = true;
  static constexpr int kBlockBytes = kFive ? 176 : 144;
  struct Raw {
    uint32_t head[4];       // d, dmin, scales[12]
    simt::U32x4 qs[2];      // qs[32c .. 32c + 32)
    simt::U32x4 qh[kFive ? 2 : 1];
  };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    const uint8_t* b = row + (chunk / 8) * kBlockBytes;
    const int c = static_cast<int>(chunk % 8) / 2;
    r.head[0] = simt::load<uint32_t>(b);
    r.head[1] = simt::load<uint32_t>(b + 4);
    r.head[2] = simt::load<uint32_t>(b + 8);
    r.head[3] = simt::load<uint32_t>(b + 12);
    const uint8_t* qs = b + (kFive ? 48 : 16) + 32 * c;
    r.qs[0] = simt::load16(qs);
    r.qs[1] = simt::load16(qs + 16);
    if constexpr (kFive) {
      r.qh[0] = simt::load16(b + 16);
      r.qh[1] = simt::load16(b + 32);
    }
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t chunk, float& a, float& b) {
    const int sb = static_cast<int>(chunk % 8);
    uint8_t sc_bytes[12];
    SIMT_UNROLL
    for (int i = 0; i < 12; ++i) sc_bytes[i] = static_cast<uint8_t>(byte_of32(r.head + 1, i));
    int sc = 0, m = 0;
    scale_min_k4(sb, sc_bytes, sc, m);
    a = simt::f16_to_f32(simt::lo16(r.head[0])) * static_cast<float>(sc);
    b = -(simt::f16_to_f32(simt::hi16(r.head[0])) * static_cast<float>(m));
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t chunk, int s, float q[8]) {
    const int sb = static_cast<int>(chunk % 8);
    const uint32_t qsw[8] = {r.qs[0].x, r.qs[0].y, r.qs[0].z, r.qs[0].w, r.qs[1].x, r.qs[1].y, r.qs[1].z, r.qs[1].w};
    const int hi = sb % 2;
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int l = 8 * s + i;
      const uint32_t byte = byte_of32(qsw, l);
      uint32_t v = hi ? byte >> 4 : byte & 0x0Fu;
      if constexpr (kFive) {
        const uint32_t qhw[8] = {r.qh[0].x, r.qh[0].y, r.qh[0].z, r.qh[0].w, r.qh[1].x, r.qh[1].y, r.qh[1].z, r.qh[1].w};
        v |= ((byte_of32(qhw, l) >> sb) & 1u) << 4;
      }
      q[i] = static_cast<float>(v);
    }
  }
};

// Q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; } 210 bytes (2-byte aligned). Chunk: half h (128
// elements), quarter t: ql[64h + 32(t & 1) + l] (low nibble for t < 2, else high), qh[32h + l] bits 2t,
// scale sc[8h + 2t + l / 16].
struct Q6K {
  static constexpr int kElems = 32, kRows = 2;
  static constexpr DType kType = DType::kQ6_K;
  static constexpr bool kOffset = false;
  struct Raw {
    uint16_t ql[16], qh[16];
    uint16_t sc;  // the two int8 scales of the chunk
    uint16_t d;
  };
  SIMT_DEVICE static Raw load(const uint8_t* row, int64_t chunk, bool, int) {
    Raw r;
    const uint8_t* b = row + (chunk / 8) * 210;
    const int sub = static_cast<int>(chunk % 8), h = sub / 4, t = sub % 4;
    load_u16(b + 64 * h + 32 * (t & 1), r.ql);
    load_u16(b + 128 + 32 * h, r.qh);
    r.sc = simt::load<uint16_t>(b + 192 + 8 * h + 2 * t);
    r.d = simt::load<uint16_t>(b + 208);
    return r;
  }
  SIMT_DEVICE static void scales(const Raw& r, int64_t, float& a, float& b) {
    a = simt::f16_to_f32(r.d);
    b = 0.0f;
  }
  SIMT_DEVICE static void decode(const Raw& r, int64_t chunk, int s, float q[8]) {
    const int t = static_cast<int>(chunk % 8) % 4;
    const int sc = static_cast<int8_t>(s < 2 ? r.sc & 0xFFu : r.sc >> 8);
    SIMT_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int l = 8 * s + i;
      const uint32_t low = byte_of(r.ql, l), high = byte_of(r.qh, l);
      const int v = static_cast<int>((t < 2 ? low & 0x0Fu : low >> 4) | (((high >> (2 * t)) & 3u) << 4)) - 32;
      q[i] = static_cast<float>(sc * v);
    }
  }
};

}  // namespace podserve::kernels::cuda::gemv_fmt
