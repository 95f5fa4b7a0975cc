// Device helpers shared by the SIMT kernels: block reductions and GGUF element decoding.
#pragma once

#include <cstdint>

#include "base/dtype.h"
#include "kernels/cuda/simt.h"

namespace podserve::kernels::cuda {

/// Sum over the whole block (blockDim.x a multiple of 32); every thread gets it. `scratch`: 32 floats of shared
/// memory. The tree (each warp's butterfly, then the warps' sums in a butterfly) depends on blockDim only.
SIMT_DEVICE float block_sum(float v, float* scratch) {
  v = simt::warp_sum(v);
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return simt::warp_sum(lane < n_warps ? scratch[lane] : 0.0f);
}

SIMT_DEVICE float load_f16(const uint8_t* p) { return simt::f16_to_f32(simt::load<uint16_t>(p)); }

/// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block's 12 scale bytes (ggml's packing).
SIMT_DEVICE void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

/// Element e of a row of `type` (the float steps of ref::dequantize_row_ref, uncontracted, so the same bits).
/// Decodes its block's scales each call: for gathers and conversions, not for the matmul inner loops.
SIMT_DEVICE float dequant_element(DType type, const uint8_t* row, int64_t e) {
  switch (type) {
    case DType::kF32: return simt::load<float>(row + 4 * e);
    case DType::kF16: return load_f16(row + 2 * e);
    case DType::kBF16: return simt::bf16_to_f32(simt::load<uint16_t>(row + 2 * e));
    default: break;
  }
  const int j32 = static_cast<int>(e % 32);
  switch (type) {
    case DType::kQ8_0: {
      const uint8_t* b = row + (e / 32) * 34;
      return static_cast<float>(static_cast<int8_t>(b[2 + j32])) * load_f16(b);
    }
    case DType::kQ4_0: {
      const uint8_t* b = row + (e / 32) * 18;
      const int q = j32 < 16 ? (b[2 + j32] & 0x0F) : (b[2 + j32 - 16] >> 4);
      return static_cast<float>(q - 8) * load_f16(b);
    }
    case DType::kQ4_1: {
      const uint8_t* b = row + (e / 32) * 20;
      const int q = j32 < 16 ? (b[4 + j32] & 0x0F) : (b[4 + j32 - 16] >> 4);
      return simt::add_rn(simt::mul_rn(static_cast<float>(q), load_f16(b)), load_f16(b + 2));
    }
    case DType::kQ5_0:
    case DType::kQ5_1: {
      const bool q51 = type == DType::kQ5_1;
      const uint8_t* b = row + (e / 32) * (q51 ? 24 : 22);
      const uint8_t* qh = b + (q51 ? 4 : 2);
      const uint8_t* qs = qh + 4;
      const int nibble = j32 < 16 ? (qs[j32] & 0x0F) : (qs[j32 - 16] >> 4);
      const int q = nibble | (((qh[j32 / 8] >> (j32 % 8)) & 1) << 4);
      if (!q51) return static_cast<float>(q - 16) * load_f16(b);
      return simt::add_rn(simt::mul_rn(static_cast<float>(q), load_f16(b)), load_f16(b + 2));
    }
    default: break;
  }
  const int j = static_cast<int>(e % 256);
  switch (type) {
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool q5 = type == DType::kQ5_K;
      const uint8_t* b = row + (e / 256) * (q5 ? 176 : 144);
      const int c = j / 64, hi = (j % 64) / 32, l = j % 32;
      int sc = 0, m = 0;
      scale_min_k4(2 * c + hi, b + 4, sc, m);
      const uint8_t* qs = b + (q5 ? 48 : 16);
      int q = hi ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 0x0F);
      if (q5) q |= ((b[16 + l] >> (2 * c + hi)) & 1) << 4;
      const float d1 = simt::mul_rn(load_f16(b), static_cast<float>(sc));
      const float m1 = simt::mul_rn(load_f16(b + 2), static_cast<float>(m));
      return simt::add_rn(simt::mul_rn(d1, static_cast<float>(q)), -m1);
    }
    case DType::kQ6_K: {
      const uint8_t* b = row + (e / 256) * 210;
      const int half = j / 128, quarter = (j % 128) / 32, l = j % 32;
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      const auto* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * half);
      const int byte = ql[l + 32 * (quarter & 1)];  // quarters 0, 2: ql[l]; 1, 3: ql[l + 32]
      const int nib = quarter < 2 ? (byte & 0x0F) : (byte >> 4);
      const int q = (nib | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
      const float d = load_f16(b + 208);
      return simt::mul_rn(simt::mul_rn(d, static_cast<float>(sc[l / 16 + 2 * quarter])), static_cast<float>(q));
    }
    default: return __uint_as_float(0x7fc00000u);  // unsupported: NaN (the host checks types first)
  }
}

}  // namespace podserve::kernels::cuda
