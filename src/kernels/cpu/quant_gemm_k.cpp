// Portable parts of the K-quant GEMM (quant_gemm_k.h): Q8_K activation quantization, the scalar path (the
// in-framework reference the SIMD builds must match bit for bit) and the matmul driver.
#include "kernels/cpu/quant_gemm_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "kernels/cpu/half_load.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm.h"  // kAmxMinTokens

namespace podserve::kernels::gemm {
namespace {

// One super-block's float steps (see quant_gemm_k.h) for the scalar path.
float superblock_scalar(DType type, const uint8_t* wb, const KActBlock& a, float acc) {
  if (type == DType::kQ6_K) {
    const uint8_t* ql = wb;
    const uint8_t* qh = wb + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(wb + 192);
    int q[256];
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = ql[64 * h + l], lo2 = ql[64 * h + l + 32], hi = qh[32 * h + l];
        q[128 * h + l] = (lo & 0x0F) | ((hi & 3) << 4);
        q[128 * h + l + 32] = (lo2 & 0x0F) | (((hi >> 2) & 3) << 4);
        q[128 * h + l + 64] = (lo >> 4) | (((hi >> 4) & 3) << 4);
        q[128 * h + l + 96] = (lo2 >> 4) | (((hi >> 6) & 3) << 4);
      }
    }
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q[16 * j + l] * a.qs[16 * j + l];
      isum += sc[j] * (dot - 32 * a.bsums[j]);
    }
    return std::fma(static_cast<float>(isum), half_at(wb + 208) * a.d, acc);
  }
  // Q4_K / Q5_K: chunk c of 64 elements = sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) of qs[32c..].
  const bool five = type == DType::kQ5_K;
  const uint8_t* scales = wb + 4;
  const uint8_t* qh = wb + 16;
  const uint8_t* qs = wb + (five ? 48 : 16);
  int32_t isum = 0, msum = 0;
  for (int j = 0; j < 8; ++j) {
    int sc = 0, m = 0;
    scale_min_k4(j, scales, &sc, &m);
    const int c = j / 2, shift = 4 * (j % 2);
    int32_t dot = 0;
    for (int l = 0; l < 32; ++l) {
      int q = (qs[32 * c + l] >> shift) & 0x0F;
      if (five) q |= ((qh[l] >> j) & 1) << 4;
      dot += q * a.qs[32 * j + l];
    }
    isum += sc * dot;
    msum += m * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
  }
  acc = std::fma(static_cast<float>(isum), half_at(wb) * a.d, acc);
  return std::fma(-static_cast<float>(msum), half_at(wb + 2) * a.d, acc);
}

}  // namespace

void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

bool supports_k(DType weight_type) {
  return weight_type == DType::kQ4_K || weight_type == DType::kQ5_K || weight_type == DType::kQ6_K;
}

void quantize_acts_k(const float* x, int64_t n, int64_t cols, KActBlock* out) {
  PODSERVE_CHECK(cols % 256 == 0);
  for (int64_t i = 0; i < n * cols / 256; ++i) {
    const float* xb = x + i * 256;
    KActBlock& a = out[i];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) amax = ax, max = xb[j];
    }
    if (amax == 0.0f) {
      std::memset(&a, 0, sizeof a);
      continue;
    }
    // ggml's float steps: iscale = -127 / max, q = min(127, round_half_even(iscale * x)), d = 1 / iscale.
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; ++j) {
      a.qs[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * xb[j]))));
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += a.qs[16 * g + l];
      a.bsums[g] = static_cast<int16_t>(sum);
    }
    a.d = 1.0f / iscale;
  }
}

void gemm_k_rows_scalar(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end,
                        float* y) {
  PODSERVE_CHECK(supports_k(w.type)) << "k-quant gemm: unsupported weight type " << dtype_name(w.type);
  const int64_t blocks = w.cols / 256, block_bytes = dtype_block_bytes(w.type);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < n; ++t) {
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) acc = superblock_scalar(w.type, row + b * block_bytes, acts[t * blocks + b], acc);
      y[t * w.rows + r] = acc;
    }
  }
}

void matmul_k(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool) {
  PODSERVE_CHECK(supports_k(w.type) && w.cols % 256 == 0);
  static thread_local std::vector<KActBlock> act_buf;
  act_buf.resize(static_cast<size_t>(n * w.cols / 256));
  KActBlock* acts_out = act_buf.data();
  auto* quantize = cpu::has_avx2() ? quantize_acts_k_avx2 : quantize_acts_k;
  if (n < 8) {
    quantize(x, n, w.cols, acts_out);
  } else {  // prefill: tokens are independent; split them over the pool too
    pool->parallel_for(n, [&](int64_t begin, int64_t end) {
      quantize(x + begin * w.cols, end - begin, w.cols, acts_out + begin * (w.cols / 256));
    });
  }
  const KActBlock* acts = act_buf.data();
  auto* rows_fn = cpu::has_avx_vnni() ? gemm_k_rows_avxvnni : cpu::has_avx2() ? gemm_k_rows_avx2 : gemm_k_rows_scalar;
  if (n >= kAmxMinTokens && w.rows >= 16 && supports_k_amx(w.type) && cpu::active_isa() >= cpu::Isa::kAmx) {
    // Prefill: AMX tiles over 16-row groups; rows past the last full group take the vector path.
    static thread_local AmxKActs amx_buf;
    pack_acts_k_amx(acts, n, w.cols / 256, &amx_buf);
    const AmxKActs& amx_acts = amx_buf;  // the caller's; a thread_local named in the lambda is the worker's
    const int64_t amx_rows = w.rows / 16 * 16;
    pool->parallel_for((w.rows + 15) / 16, [&](int64_t begin, int64_t end) {
      const int64_t row_begin = begin * 16, row_end = std::min(w.rows, end * 16);
      const int64_t amx_end = std::min(row_end, amx_rows);
      if (row_begin < amx_end) gemm_k_rows_amx(w, amx_acts, n, row_begin, amx_end, y);
      if (amx_end < row_end) rows_fn(w, acts, n, std::max(row_begin, amx_end), row_end, y);
    });
    return;
  }
  constexpr int64_t kTile = 8;  // whole row groups of the packed AVX2 path
  pool->parallel_for((w.rows + kTile - 1) / kTile, [&](int64_t begin, int64_t end) {
    rows_fn(w, acts, n, begin * kTile, std::min(w.rows, end * kTile), y);
  });
}

}  // namespace podserve::kernels::gemm
