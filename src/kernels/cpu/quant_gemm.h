// Integer GEMM for quantized weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) times 8-bit activations, the engine of cpu::matmul.
//
// Activations are quantized once per matmul into ActBlocks (ggml's Q8_0/Q8_1 rounding: d = fp16(amax/127),
// q = round(x * 127/amax), s = fp16(d * sum q)), plus per-4-element sums so the VNNI path can correct the
// unsigned-times-signed dot product in the integer accumulator. A tile of RT weight rows x TT tokens shares
// each unpacked weight block across TT tokens and each activation block across RT rows, so prefill reads every
// weight row once per 64 tokens instead of once per token, and decode (TT = 1) does 4 rows per pass.
#pragma once

#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "kernels/ops.h"

namespace podserve::kernels::gemm {

struct ActBlock {
  int8_t qs[32];
  int32_t lane_sum[8];  // lane_sum[i] = qs[4i] + ... + qs[4i+3]
  float d;              // fp16-rounded scale
  float s;              // fp16-rounded d * sum(qs) (ggml's Q8_1 s)
};

bool supports(DType weight_type);  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0

/// Quantizes x: [n, cols] (cols % 32 == 0) into n * cols / 32 ActBlocks (token-major); both give equal blocks.
void quantize_acts_scalar(const float* x, int64_t n, int64_t cols, ActBlock* out);
void quantize_acts_avx2(const float* x, int64_t n, int64_t cols, ActBlock* out);

/// y[t, r] for r in [row_begin, row_end), all t < n; acts from quantize_acts over w.cols. y is [n, w.rows].
/// Portable scalar version and the two SIMD builds of quant_gemm_impl.inc.
void gemm_rows_scalar(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);
void gemm_rows_avx2(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);
/// gemm_rows_avx2 over w.packed (packed_weights.h; quant_gemm_x8_avx2.cpp): gemm_rows_avx2 takes it when the view
/// has a packed copy. Same bits.
void gemm_rows_packed_avx2(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end,
                           float* y);
void gemm_rows_avxvnni(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);
/// AVX-512 + AVX512-VNNI, 16 rows per pass (quant_gemm_avx512.cpp); same bits as the others.
void gemm_rows_avx512(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);

/// AMX-INT8 prefill path (quant_gemm_amx.cpp): usable when the CPU has AMX-INT8 + AVX-512 and the kernel grants
/// the tile state to this process (asked once, on the first call).
bool amx_usable();

/// Activations in AMX tile layout: token groups of 16 (the last zero-padded), per (group, block) a 512-byte
/// tile B[k/4][token*4 + k%4] and 16 scales d, Q8_1 sums s, integer sums of the block's qs.
struct AmxActs {
  int64_t groups = 0, blocks = 0;
  std::vector<int8_t> q;
  std::vector<float> d, s;
  std::vector<int32_t> sum;
};
void pack_acts_amx(const ActBlock* acts, int64_t n, int64_t blocks, AmxActs* out);
/// pack_acts_amx in parts (e.g. one range of groups per thread): size_acts_amx first, then every group once.
void size_acts_amx(int64_t n, int64_t blocks, AmxActs* out);
void pack_acts_amx_groups(const ActBlock* acts, int64_t n, int64_t g_begin, int64_t g_end, AmxActs* out);
/// As gemm_rows_*; row_begin and row_end must be multiples of 16.
void gemm_rows_amx(const MatrixView& w, const AmxActs& acts, int64_t n, int64_t row_begin, int64_t row_end, float* y);

/// AMX-INT8 path for small batches, 1 <= n <= kAmxDecodeMaxTokens (quant_gemm_amx_decode.cpp): the tokens are
/// the tile rows. As gemm_rows_*; rows past the last full group of 16 and other weight types take
/// gemm_rows_avx512. Same bits as the others.
constexpr int64_t kAmxDecodeMaxTokens = 64;
/// Where cpu::matmul and the fused matmuls switch paths on an AMX CPU (measured per layer of SmolLM2 shapes): the
/// AVX-512 kernel below kAmxDecodeMinTokens, then gemm_rows_amx_decode; the prefill kernel from kAmxMinTokens for
/// the types the decode kernel lacks (with fewer tokens its 16-token tiles would be mostly padding).
constexpr int64_t kAmxDecodeMinTokens = 4;
constexpr int64_t kAmxMinTokens = 16;
bool amx_decode_supports(DType weight_type);  // Q4_0, Q4_1, Q8_0
void gemm_rows_amx_decode(const MatrixView& w, const ActBlock* acts, int64_t n, int64_t row_begin, int64_t row_end,
                          float* y);

}  // namespace podserve::kernels::gemm
