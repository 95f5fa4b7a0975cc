// Integer GEMM for the K-quant weight formats (Q4_K, Q5_K, Q6_K: 256-element super-blocks with 6- or 8-bit
// sub-block scales) times 8-bit activations, ggml's scheme: activations are quantized once per matmul to
// Q8_K (float d = max / -127, q = round(x / d), per-16 sums), each 32- (Q4_K/Q5_K) or 16-element (Q6_K)
// sub-block dot product is an exact integer scaled by its integer sub-block scale, and a super-block's float
// step is one fma per super-block (plus one for the mins of Q4_K/Q5_K):
//   Q4_K/Q5_K: acc = fma(float(sum_j sc_j * dot_j), d * da, acc); acc = fma(-float(sum_j m_j * asum_j), dmin * da, acc)
//   Q6_K:      acc = fma(float(sum_j sc_j * (dot_j - 32 * asum_j)), d * da, acc)
// Every path (scalar, AVX2, AVX-VNNI) computes the same integers and the same float steps, so a token's result
// does not depend on its batch or path (as quant_gemm.h's formats).
#pragma once

#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "kernels/ops.h"

namespace podserve {
class ThreadPool;
}

namespace podserve::kernels::gemm {

struct KActBlock {  // ggml's block_q8_K
  float d;
  int8_t qs[256];
  int16_t bsums[16];  // bsums[i] = qs[16i] + ... + qs[16i+15]
};

bool supports_k(DType weight_type);  // Q4_K, Q5_K, Q6_K

/// The 6-bit scale and min of sub-block j (0..7) packed in Q4_K/Q5_K's 12 scale bytes (as ggml's get_scale_min_k4).
void scale_min_k4(int j, const uint8_t* q, int* sc, int* m);

/// Quantizes x: [n, cols] (cols % 256 == 0) into n * cols / 256 KActBlocks (token-major), as ggml's
/// quantize_row_q8_K_ref.
void quantize_acts_k(const float* x, int64_t n, int64_t cols, KActBlock* out);
void quantize_acts_k_avx2(const float* x, int64_t n, int64_t cols, KActBlock* out);  // the same blocks, faster

/// y[t, r] for r in [row_begin, row_end), all t < n; acts from quantize_acts_k over w.cols. y is [n, w.rows].
void gemm_k_rows_scalar(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);
void gemm_k_rows_avx2(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);
/// gemm_k_rows_avx2 over w.packed (packed_weights.h; quant_gemm_k_x8_avx2.cpp): gemm_k_rows_avx2 takes it when
/// the view has a packed copy. Same bits.
void gemm_k_rows_packed_avx2(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin,
                             int64_t row_end, float* y);
void gemm_k_rows_avxvnni(const MatrixView& w, const KActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);

/// AMX-INT8 prefill path (quant_gemm_k_amx.cpp): activations per 16-token group and 32-wide
/// sub-block as a 512-byte tile B[k/4][token*4 + k%4], the tokens' d per super-block, and per-32 / per-16 sums.
bool supports_k_amx(DType weight_type);
struct AmxKActs {
  int64_t groups = 0, blocks = 0;
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> asum;  // per 32-wide sub-block (Q4_K/Q5_K)
  std::vector<int32_t> bsum;  // per 16-wide sub-block (Q6_K)
};
void pack_acts_k_amx(const KActBlock* acts, int64_t n, int64_t blocks, AmxKActs* out);
/// As gemm_k_rows_*; row_begin and row_end must be multiples of 16. Needs cpu::active_isa() >= Isa::kAmx.
void gemm_k_rows_amx(const MatrixView& w, const AmxKActs& acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);

/// cpu::matmul for K-quant weights: quantizes x, picks the path (cpu::active_isa), splits rows over the pool.
void matmul_k(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool);

}  // namespace podserve::kernels::gemm
