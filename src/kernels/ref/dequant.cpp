#include "kernels/ref/dequant.h"

#include <cstring>

#include "base/check.h"
#include "base/fp16.h"

namespace podserve {
namespace {

// Blocks are read from raw bytes with memcpy: mapped tensor data carries no alignment guarantee.
float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return fp16_to_float(h);
}

// block_q8_0 { half d; int8 qs[32]; }
void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// block_q4_0 { half d; uint8 qs[16]; }: low nibbles are elements 0..15, high nibbles 16..31, offset by -8.
void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// block_q4_1 { half d; half m; uint8 qs[16]; }: y = q * d + m.
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0/Q5_1 keep the fifth bit of element j in bit j of the little-endian uint32 qh.
int q5_at(const uint8_t* qh_bytes, const uint8_t* qs, int j) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const int nibble = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
  return nibble | static_cast<int>(((qh >> j) & 1u) << 4);
}

// block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }: 5-bit q - 16, nibbles as Q4_0.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q5_at(b + 2, b + 6, j) - 16) * d;
}

// block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }: y = q * d + m.
void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q5_at(b + 4, b + 8, j)) * d + m;
}

// The 6-bit scale and min of sub-block j (0..7) packed in Q4_K's 12 scale bytes.
void get_scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: 8 sub-blocks of 32, y = d*sc*q - dmin*m.
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int c = 0; c < 4; ++c) {  // 4 chunks of 64 outputs; each qs byte holds one of each half
    int sc = 0, m = 0;
    get_scale_min_k4(2 * c, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    get_scale_min_k4(2 * c + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * static_cast<float>(qs[32 * c + l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * static_cast<float>(qs[32 * c + l] >> 4) - m2;
  }
}

// block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }: Q4_K plus a fifth bit;
// chunk c's high bits are bits 2c (low nibbles) and 2c+1 (high nibbles) of qh[l].
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int c = 0; c < 4; ++c) {
    int sc = 0, m = 0;
    get_scale_min_k4(2 * c, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    get_scale_min_k4(2 * c + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int q = (qs[32 * c + l] & 0x0F) | (((qh[l] >> (2 * c)) & 1) << 4);
      y[64 * c + l] = d1 * static_cast<float>(q) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int q = (qs[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
      y[64 * c + 32 + l] = d2 * static_cast<float>(q) - m2;
    }
  }
}

// block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: 16 sub-blocks of 16, 6-bit q - 32.
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_half(b + 208);
  for (int half = 0; half < 2; ++half) {  // each half: 128 outputs from 64 ql, 32 qh and 8 scale bytes
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    ql += 64;
    qh += 32;
    sc += 8;
    y += 128;
  }
}

}  // namespace

void dequantize_row_ref(DType type, const void* src, float* dst, int64_t n) {
  const int64_t block = dtype_block_size(type);
  PODSERVE_CHECK(block > 0 && n >= 0 && n % block == 0)
      << "dequantize_row_ref: " << n << " elements of " << dtype_name(type);
  if (n == 0) return;  // src/dst may be null for empty rows
  const auto* p = static_cast<const uint8_t*>(src);
  const int64_t block_bytes = dtype_block_bytes(type);
  void (*dequant_block)(const uint8_t*, float*) = nullptr;
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, p, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = load_half(p + 2 * i);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, sizeof h);
        dst[i] = bf16_to_float(h);
      }
      return;
    case DType::kQ8_0: dequant_block = dequant_q8_0; break;
    case DType::kQ4_0: dequant_block = dequant_q4_0; break;
    case DType::kQ4_1: dequant_block = dequant_q4_1; break;
    case DType::kQ5_0: dequant_block = dequant_q5_0; break;
    case DType::kQ5_1: dequant_block = dequant_q5_1; break;
    case DType::kQ4_K: dequant_block = dequant_q4_k; break;
    case DType::kQ5_K: dequant_block = dequant_q5_k; break;
    case DType::kQ6_K: dequant_block = dequant_q6_k; break;
    case DType::kQ8_1: break;
  }
  PODSERVE_CHECK(dequant_block != nullptr) << "dequantize_row_ref: unsupported type " << dtype_name(type);
  for (int64_t i = 0; i < n / block; ++i) dequant_block(p + i * block_bytes, dst + i * block);
}

}  // namespace podserve
