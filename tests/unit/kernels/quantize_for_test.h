// Test-local reference quantizers (float -> weight blocks), written from the block layouts in models.md §5.3
// and the spirit of ggml's quantize_row_*_ref. They only need to produce well-formed, realistic blocks: the
// kernels under test are compared against ref:: on whatever blocks these emit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/check.h"
#include "base/dtype.h"
#include "base/fp16.h"

namespace podserve::test_quant {

inline void put_half(uint8_t* p, float f) {
  const uint16_t h = float_to_fp16(f);
  std::memcpy(p, &h, 2);
}

inline float amax_of(const float* x, int n) {
  float m = 0.0f;
  for (int j = 0; j < n; ++j) m = std::max(m, std::fabs(x[j]));
  return m;
}

// block_q8_0 { half d; int8 qs[32]; }
inline void quantize_q8_0(const float* x, uint8_t* b) {
  const float d = amax_of(x, 32) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b, d);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[j] * id)));
}

// block_q4_0 { half d; uint8 qs[16]; }: the largest-magnitude value maps to -8 (as ggml).
inline void quantize_q4_0(const float* x, uint8_t* b) {
  float max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > std::fabs(max)) max = x[j];
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b, d);
  auto q = [&](float v) { return std::min(15, static_cast<int>(v * id + 8.5f)); };
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(q(x[j]) | (q(x[j + 16]) << 4));
}

// block_q4_1 { half d; half m; uint8 qs[16]; }: y = q * d + m.
inline void quantize_q4_1(const float* x, uint8_t* b) {
  const float mn = *std::min_element(x, x + 32), mx = *std::max_element(x, x + 32);
  const float d = (mx - mn) / 15.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b, d);
  put_half(b + 2, mn);
  auto q = [&](float v) { return std::clamp(static_cast<int>((v - mn) * id + 0.5f), 0, 15); };
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(q(x[j]) | (q(x[j + 16]) << 4));
}

// block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }: q in 0..31, y = (q - 16) * d; the largest-magnitude value
// maps to -16 (as ggml). Bit j of qh is element j's fifth bit.
inline void quantize_q5_0(const float* x, uint8_t* b) {
  float max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > std::fabs(max)) max = x[j];
  }
  const float d = max / -16.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b, d);
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) {
    const int q = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    qh |= static_cast<uint32_t>(q >> 4) << j;
    if (j < 16) b[6 + j] = static_cast<uint8_t>(q & 0x0F);
    else b[6 + j - 16] = static_cast<uint8_t>(b[6 + j - 16] | ((q & 0x0F) << 4));
  }
  std::memcpy(b + 2, &qh, 4);
}

// block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }: y = q * d + m, q in 0..31.
inline void quantize_q5_1(const float* x, uint8_t* b) {
  const float mn = *std::min_element(x, x + 32), mx = *std::max_element(x, x + 32);
  const float d = (mx - mn) / 31.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b, d);
  put_half(b + 2, mn);
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) {
    const int q = std::clamp(static_cast<int>((x[j] - mn) * id + 0.5f), 0, 31);
    qh |= static_cast<uint32_t>(q >> 4) << j;
    if (j < 16) b[8 + j] = static_cast<uint8_t>(q & 0x0F);
    else b[8 + j - 16] = static_cast<uint8_t>(b[8 + j - 16] | ((q & 0x0F) << 4));
  }
  std::memcpy(b + 4, &qh, 4);
}

// block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: 8 sub-blocks of 32 with 6-bit scale/min.
// Q4_K (levels 15) and Q5_K (levels 31; block_q5_K { half d, dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }).
inline void quantize_q4_k(const float* x, uint8_t* b, int levels = 15) {
  float scale[8], min[8];
  for (int s = 0; s < 8; ++s) {
    const float* xs = x + 32 * s;
    const float lo = std::min(0.0f, *std::min_element(xs, xs + 32)), hi = *std::max_element(xs, xs + 32);
    scale[s] = (hi - lo) / static_cast<float>(levels);
    min[s] = -lo;  // y = d*sc*q - dmin*m, so m holds -min >= 0
  }
  const float d = round_to_fp16(*std::max_element(scale, scale + 8) / 63.0f);
  const float dmin = round_to_fp16(*std::max_element(min, min + 8) / 63.0f);
  put_half(b, d);
  put_half(b + 2, dmin);
  int sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d > 0.0f ? std::min(63, static_cast<int>(std::lround(scale[s] / d))) : 0;
    m[s] = dmin > 0.0f ? std::min(63, static_cast<int>(std::lround(min[s] / dmin))) : 0;
  }
  uint8_t* scales = b + 4;  // inverse of get_scale_min_k4
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
  }
  int q[256];
  for (int i = 0; i < 256; ++i) {
    const float step = d * static_cast<float>(sc[i / 32]), off = dmin * static_cast<float>(m[i / 32]);
    q[i] = step > 0.0f ? std::clamp(static_cast<int>(std::lround((x[i] + off) / step)), 0, levels) : 0;
  }
  uint8_t* qs = b + (levels == 31 ? 48 : 16);
  if (levels == 31) std::memset(b + 16, 0, 32);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      if (levels == 31) b[16 + l] = static_cast<uint8_t>(b[16 + l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
  }
}

// block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: 16 sub-blocks of 16, 6-bit q - 32.
inline void quantize_q6_k(const float* x, uint8_t* b) {
  float scale[16];
  float max_scale = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scale[s] = amax_of(x + 16 * s, 16) / 31.0f;
    max_scale = std::max(max_scale, scale[s]);
  }
  const float d = round_to_fp16(max_scale / 127.0f);
  put_half(b + 208, d);
  int q[256];
  for (int s = 0; s < 16; ++s) {
    const int sc = d > 0.0f ? std::min(127, static_cast<int>(std::lround(scale[s] / d))) : 0;
    b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc));
    const float step = d * static_cast<float>(sc);
    for (int i = 16 * s; i < 16 * s + 16; ++i) {
      q[i] = (step > 0.0f ? std::clamp(static_cast<int>(std::lround(x[i] / step)), -32, 31) : 0) + 32;
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int* qh_src = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = qh_src[l], q2 = qh_src[l + 32], q3 = qh_src[l + 64], q4 = qh_src[l + 96];
      b[64 * h + l] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
      b[64 * h + l + 32] = static_cast<uint8_t>((q2 & 0x0F) | ((q4 & 0x0F) << 4));
      b[128 + 32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

/// Quantizes x: [n] (n a multiple of the block size) into `type`.
inline std::vector<uint8_t> quantize(DType type, const float* x, int64_t n) {
  std::vector<uint8_t> out(dtype_row_bytes(type, n));
  uint8_t* p = out.data();
  const int64_t bs = dtype_block_size(type), bb = dtype_block_bytes(type);
  for (int64_t i = 0; i < n / bs; ++i) {
    const float* xb = x + i * bs;
    uint8_t* ob = p + i * bb;
    switch (type) {
      case DType::kF32: std::memcpy(ob, xb, 4); break;
      case DType::kF16: put_half(ob, *xb); break;
      case DType::kBF16: {  // round to nearest even on the top 16 bits (inputs are finite)
        uint32_t bits;
        std::memcpy(&bits, xb, 4);
        const uint16_t h = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
        std::memcpy(ob, &h, 2);
        break;
      }
      case DType::kQ8_0: quantize_q8_0(xb, ob); break;
      case DType::kQ4_0: quantize_q4_0(xb, ob); break;
      case DType::kQ4_1: quantize_q4_1(xb, ob); break;
      case DType::kQ5_0: quantize_q5_0(xb, ob); break;
      case DType::kQ5_1: quantize_q5_1(xb, ob); break;
      case DType::kQ4_K: quantize_q4_k(xb, ob); break;
      case DType::kQ5_K: quantize_q4_k(xb, ob, 31); break;
      case DType::kQ6_K: quantize_q6_k(xb, ob); break;
      case DType::kQ8_1: PODSERVE_CHECK(false) << "Q8_1 is an activation format"; break;
    }
  }
  return out;
}

inline std::vector<float> random_normal(std::mt19937& gen, int64_t n, float sigma = 1.0f) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

}  // namespace podserve::test_quant
