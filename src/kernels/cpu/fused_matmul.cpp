// matmul_many / matmul_swiglu (kernels/fused_ops.h): cpu::matmul's quantized GEMM paths, with one activation
// quantization and one thread-pool dispatch shared by several weight matrices; float weights (F32/F16/BF16,
// float_gemm.h) share the dispatch only.
#include <algorithm>
#include <vector>

#include "base/check.h"
#include "base/thread_pool.h"
#include "kernels/cpu/float_gemm.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/fused_ops.h"

namespace podserve::kernels::cpu {
namespace {

// The paths below mirror cpu::matmul's choice (ops_cpu.cpp); the bits do not depend on it, only the speed does.
using gemm::kAmxDecodeMinTokens;  // the path thresholds (quant_gemm.h)
using gemm::kAmxMinTokens;
// Rows per work unit: a multiple of the AMX tile height and AVX-512 pass (16) and of silu_mul's vector width (8),
// so a unit never splits an AMX row group and the activation sees the same vector lanes as one call over the whole row.
constexpr int64_t kUnitRows = 16;
// From this many tokens on, the activation quantization is split over the pool too (it is O(n * cols)).
constexpr int64_t kParallelQuantizeTokens = 64;

using RowsFn = void (*)(const MatrixView&, const gemm::ActBlock*, int64_t, int64_t, int64_t, float*);

// Quantized activations for n tokens and how cpu::matmul runs a range of weight rows over them.
struct Acts {
  const gemm::ActBlock* blocks = nullptr;
  const gemm::AmxActs* amx = nullptr;  // set when the AMX path runs
  const float* floats = nullptr;       // set for float weights: the activations as they are
  RowsFn rows_fn = nullptr;            // the vector path (all rows, or the rows past the last AMX group)
  int64_t n = 0;

  // y[t, r] for r in [row_begin, row_end); row_begin is a multiple of kUnitRows.
  void run_rows(const MatrixView& w, int64_t row_begin, int64_t row_end, float* y) const {
    if (floats != nullptr) {
      gemm::float_rows(w, floats, n, row_begin, row_end, y);
    } else if (amx != nullptr) {
      const int64_t amx_end = std::min(row_end, w.rows / 16 * 16);
      if (row_begin < amx_end) gemm::gemm_rows_amx(w, *amx, n, row_begin, amx_end, y);
      if (amx_end < row_end) rows_fn(w, blocks, n, std::max(row_begin, amx_end), row_end, y);
    } else {
      rows_fn(w, blocks, n, row_begin, row_end, y);
    }
  }
};

// Quantizes x ([n, cols]) into the calling thread's buffers; the returned Acts points into them.
// amx_decode_types: every weight matrix has gemm_rows_amx_decode's types (else the prefill AMX kernel starts at
// kAmxMinTokens, as in cpu::matmul).
Acts prepare_acts(const float* x, int64_t n, int64_t cols, bool amx_decode_types, ThreadPool* pool) {
  static thread_local std::vector<gemm::ActBlock> act_buf;
  static thread_local gemm::AmxActs amx_buf;
  const int64_t blocks = cols / 32;
  act_buf.resize(static_cast<size_t>(n * blocks));
  gemm::ActBlock* out = act_buf.data();
  auto* quantize = has_avx2() ? gemm::quantize_acts_avx2 : gemm::quantize_acts_scalar;
  if (n >= kParallelQuantizeTokens) {  // blocks are per token, so any split gives the same blocks
    pool->parallel_for(n, [&](int64_t begin, int64_t end) {
      quantize(x + begin * cols, end - begin, cols, out + begin * blocks);
    });
  } else {
    quantize(x, n, cols, out);
  }
  Acts a;
  a.blocks = out;
  a.n = n;
  const bool amx = active_isa() >= Isa::kAmx;
  const bool amx_decode = amx && amx_decode_types && n >= kAmxDecodeMinTokens && n <= gemm::kAmxDecodeMaxTokens;
  if (amx && !amx_decode && n >= kAmxMinTokens) {
    gemm::pack_acts_amx(out, n, blocks, &amx_buf);
    a.amx = &amx_buf;
  }
  a.rows_fn = amx_decode       ? gemm::gemm_rows_amx_decode
              : has_avx512()   ? gemm::gemm_rows_avx512  // AMX implies AVX-512
              : has_avx_vnni() ? gemm::gemm_rows_avxvnni
              : has_avx2()     ? gemm::gemm_rows_avx2
                               : gemm::gemm_rows_scalar;
  return a;
}

// Float weights need no activation preparation.
Acts float_acts(const float* x, int64_t n) {
  Acts a;
  a.floats = x;
  a.n = n;
  return a;
}

int64_t units_of(const MatrixView& w) { return (w.rows + kUnitRows - 1) / kUnitRows; }

bool amx_decode_types(std::span<const MatrixView> ws) {
  for (const MatrixView& w : ws) {
    if (!gemm::amx_decode_supports(w.type)) return false;
  }
  return true;
}

// All quantized (one activation format), or all float weights.
bool fusable(std::span<const MatrixView> ws) {
  if (gemm::supports_float(ws[0].type)) {
    for (const MatrixView& w : ws) {
      if (!gemm::supports_float(w.type) || w.cols != ws[0].cols) return false;
    }
    return true;
  }
  for (const MatrixView& w : ws) {
    if (!gemm::supports(w.type) || w.cols != ws[0].cols || w.cols % 32 != 0) return false;
  }
  return true;
}

}  // namespace

void matmul_many(std::span<const MatrixView> ws, const float* x, std::span<float* const> ys, int64_t n,
                 ThreadPool* pool) {
  PODSERVE_CHECK(ws.size() == ys.size());
  if (n <= 0 || ws.empty()) return;
  if (!fusable(ws)) {
    for (size_t i = 0; i < ws.size(); ++i) matmul(ws[i], x, ys[i], n, pool);
    return;
  }
  const Acts acts = gemm::supports_float(ws[0].type) ? float_acts(x, n)
                                                     : prepare_acts(x, n, ws[0].cols, amx_decode_types(ws), pool);
  int64_t total = 0;
  for (const MatrixView& w : ws) total += units_of(w);
  // Units are numbered through the matrices in order; a thread's range may cover the end of one and the start
  // of the next.
  pool->parallel_for(total, [&](int64_t begin, int64_t end) {
    int64_t first = 0;
    for (size_t i = 0; i < ws.size() && first < end; ++i) {
      const int64_t units = units_of(ws[i]);
      const int64_t b = std::max(begin, first), e = std::min(end, first + units);
      if (b < e) acts.run_rows(ws[i], (b - first) * kUnitRows, std::min(ws[i].rows, (e - first) * kUnitRows), ys[i]);
      first += units;
    }
  });
}

void matmul_swiglu(const MatrixView& gate, const MatrixView& up, const float* x, float* out, float* up_scratch,
                   int64_t n, ThreadPool* pool) {
  if (n <= 0) return;
  const MatrixView both[2] = {gate, up};
  const int64_t I = gate.rows;
  if (!fusable(both) || up.rows != I || I % 8 != 0) {
    matmul(gate, x, out, n, pool);
    matmul(up, x, up_scratch, n, pool);
    for (int64_t t = 0; t < n; ++t) silu_mul(out + t * I, up_scratch + t * I, out + t * I, I);
    return;
  }
  const Acts acts = gemm::supports_float(gate.type) ? float_acts(x, n)
                                                     : prepare_acts(x, n, gate.cols, amx_decode_types(both), pool);
  pool->parallel_for(units_of(gate), [&](int64_t begin, int64_t end) {
    const int64_t row_begin = begin * kUnitRows, row_end = std::min(I, end * kUnitRows);
    acts.run_rows(gate, row_begin, row_end, out);
    acts.run_rows(up, row_begin, row_end, up_scratch);
    for (int64_t t = 0; t < n; ++t) {
      float* g = out + t * I + row_begin;
      silu_mul(g, up_scratch + t * I + row_begin, g, row_end - row_begin);
    }
  });
}

}  // namespace podserve::kernels::cpu
