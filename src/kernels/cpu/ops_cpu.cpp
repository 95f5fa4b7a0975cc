// Optimized CPU ops: dispatch to the AVX2 paths when the CPU has them, split work over the thread pool.
#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "base/check.h"
#include "base/thread_pool.h"
#include "kernels/cpu/avx2_ops.h"
#include "kernels/cpu/float_gemm.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/quant_gemm.h"
#include "kernels/cpu/quant_gemm_k.h"
#include "kernels/ops.h"
#include "kernels/quant_dot.h"

namespace podserve::kernels {

// Exactly the types cpu::matmul has a path for.
bool matmul_supports(DType type) {
  return gemm::supports(type) || gemm::supports_k(type) || gemm::supports_float(type);
}

namespace cpu {
namespace {
using gemm::kAmxDecodeMinTokens;  // the path thresholds (quant_gemm.h)
using gemm::kAmxMinTokens;
int64_t amx_prefill_min_tokens(DType type) {
  return gemm::amx_decode_supports(type) ? gemm::kAmxDecodeMaxTokens + 1 : kAmxMinTokens;
}
}  // namespace

namespace {
bool cpu_has_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}
bool cpu_has_avx_vnni() {
#if defined(__x86_64__)
  // AVX-VNNI is CPUID leaf 7 sub-leaf 1, EAX bit 4 (GCC 12's __builtin_cpu_supports does not know it).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!cpu_has_avx2() || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return ((eax >> 4) & 1u) != 0;
#else
  return false;
#endif
}
// AVX-512 F/BW/VL/DQ + AVX512-VNNI (the OS must save zmm state, which __builtin_cpu_supports checks).
bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni");
}
// PODSERVE_ISA=scalar|avx2|avx-vnni|avx512 caps the start value (e.g. for valgrind, which lacks AMX and AVX-512).
int initial_isa_cap() {
  const char* env = std::getenv("PODSERVE_ISA");
  if (env == nullptr) return static_cast<int>(Isa::kAmx);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512, Isa::kAmx}) {
    if (std::strcmp(env, isa_name(isa)) == 0) return static_cast<int>(isa);
  }
  return static_cast<int>(Isa::kAmx);
}
std::atomic<int> g_isa_cap{initial_isa_cap()};
}  // namespace

Isa detected_isa() {
  static const Isa kIsa = [] {
    if (!cpu_has_avx2()) return Isa::kScalar;
    if (!cpu_has_avx_vnni()) return Isa::kAvx2;
    if (!cpu_has_avx512()) return Isa::kAvxVnni;
    return gemm::amx_usable() ? Isa::kAmx : Isa::kAvx512;
  }();
  return kIsa;
}
Isa set_isa_cap(Isa cap) { return static_cast<Isa>(g_isa_cap.exchange(static_cast<int>(cap))); }
Isa active_isa() { return std::min(detected_isa(), static_cast<Isa>(g_isa_cap.load(std::memory_order_relaxed))); }
const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avx-vnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kAmx: return "amx-int8";
  }
  return "?";
}

bool has_avx2() { return active_isa() >= Isa::kAvx2; }
bool has_avx_vnni() { return active_isa() >= Isa::kAvxVnni; }
bool has_avx512() { return active_isa() >= Isa::kAvx512; }

void matmul(const MatrixView& w, const float* x, float* y, int64_t n, ThreadPool* pool) {
  PODSERVE_CHECK(w.cols % dtype_block_size(w.type) == 0);
  if (gemm::supports(w.type)) {
    // Quantize the activations once, then each thread takes a range of row tiles (see quant_gemm.h).
    static thread_local std::vector<gemm::ActBlock> act_buf;
    const int64_t blocks = w.cols / 32;
    act_buf.resize(static_cast<size_t>(n * blocks));
    auto* quantize = has_avx2() ? gemm::quantize_acts_avx2 : gemm::quantize_acts_scalar;
    gemm::ActBlock* const acts = act_buf.data();  // the caller's; a thread_local named in a lambda is the worker's
    if (n >= amx_prefill_min_tokens(w.type) && w.rows >= 16 && active_isa() >= Isa::kAmx) {
      // Prefill: activations quantized and packed in parallel, 16 tokens per group (blocks are per token, so
      // the split does not change them); then AMX tiles over 16-row groups, and rows past the last full group
      // take the vector path.
      static thread_local gemm::AmxActs amx_buf;
      gemm::AmxActs& amx_acts = amx_buf;
      gemm::size_acts_amx(n, blocks, &amx_acts);
      pool->parallel_for(amx_acts.groups, [&](int64_t g_begin, int64_t g_end) {
        const int64_t t_begin = g_begin * 16, t_end = std::min(n, g_end * 16);
        quantize(x + t_begin * w.cols, t_end - t_begin, w.cols, acts + t_begin * blocks);
        gemm::pack_acts_amx_groups(acts, n, g_begin, g_end, &amx_acts);
      });
      const int64_t amx_rows = w.rows / 16 * 16;
      auto* rest_fn = gemm::gemm_rows_avx512;  // AMX implies AVX-512
      pool->parallel_for((w.rows + 15) / 16, [&](int64_t begin, int64_t end) {
        const int64_t row_begin = begin * 16, row_end = std::min(w.rows, end * 16);
        const int64_t amx_end = std::min(row_end, amx_rows);
        if (row_begin < amx_end) gemm::gemm_rows_amx(w, amx_acts, n, row_begin, amx_end, y);
        if (amx_end < row_end) rest_fn(w, acts, n, std::max(row_begin, amx_end), row_end, y);
      });
      return;
    }
    quantize(x, n, w.cols, acts);
    const bool avx512 = has_avx512();
    const bool amx_decode = n >= kAmxDecodeMinTokens && n <= gemm::kAmxDecodeMaxTokens &&
                            active_isa() >= Isa::kAmx && gemm::amx_decode_supports(w.type);
    auto* rows_fn = amx_decode ? gemm::gemm_rows_amx_decode
                    : avx512 ? gemm::gemm_rows_avx512
                    : has_avx_vnni() ? gemm::gemm_rows_avxvnni
                    : has_avx2()     ? gemm::gemm_rows_avx2
                                     : gemm::gemm_rows_scalar;
    const int64_t kTile = avx512 ? 16 : 8;  // the AVX-512 and AMX kernels do 16 rows per pass, packed AVX2 8
    pool->parallel_for((w.rows + kTile - 1) / kTile, [&](int64_t begin, int64_t end) {
      rows_fn(w, acts, n, begin * kTile, std::min(w.rows, end * kTile), y);
    });
    return;
  }
  if (gemm::supports_k(w.type)) return gemm::matmul_k(w, x, y, n, pool);  // Q8_K activations, quant_gemm_k.h
  if (gemm::supports_float(w.type)) return gemm::matmul_float(w, x, y, n, pool);  // F32/F16/BF16, float_gemm.h
  // Nothing else gets here: loaders bind only the types matmul_supports() accepts, which are exactly the three
  // paths above. Should another type ever come, its outputs are NaN (visibly wrong, never a crash).
  std::fill(y, y + n * w.rows, std::numeric_limits<float>::quiet_NaN());
}

// rms_norm and rope stay in this file (compiled without -mfma) with ref::'s exact float steps, so they give ref::'s
// bits; rope's gain is the cached table (pow/cos/sin per pair was most of its cost).
void rms_norm(const float* x, const float* weight, float* y, int64_t dim, float eps) {
  ref::rms_norm(x, weight, y, dim, eps);
}

void rope_interleaved(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos, float theta) {
  struct Table {
    float theta = 0.0f;
    int64_t rot_dim = -1, pos = -1;
    std::vector<float> cos, sin;
  };
  static thread_local Table table;
  if (table.theta != theta || table.rot_dim != rot_dim || table.pos != pos) {
    table.cos.resize(static_cast<size_t>(rot_dim / 2));
    table.sin.resize(static_cast<size_t>(rot_dim / 2));
    for (int64_t i = 0; i < rot_dim; i += 2) {  // as ref::rope_interleaved
      const double freq = std::pow(static_cast<double>(theta), -static_cast<double>(i) / static_cast<double>(rot_dim));
      const double angle = static_cast<double>(pos) * freq;
      table.cos[i / 2] = static_cast<float>(std::cos(angle));
      table.sin[i / 2] = static_cast<float>(std::sin(angle));
    }
    table.theta = theta, table.rot_dim = rot_dim, table.pos = pos;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < rot_dim; i += 2) {
      const float c = table.cos[i / 2], s = table.sin[i / 2];
      const float a = head[i], b = head[i + 1];
      head[i] = a * c - b * s;
      head[i + 1] = a * s + b * c;
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (has_avx2()) {
    avx2::silu_mul(gate, up, out, n);
  } else {
    ref::silu_mul(gate, up, out, n);
  }
}

void attention_head(const float* q, const PagedKv& kv, int64_t n_ctx, int64_t head_dim, float scale, float* out) {
  if (has_avx2() && head_dim % 8 == 0) {
    avx2::attention_head(q, kv, n_ctx, head_dim, scale, out);
  } else {
    ref::attention_head(q, kv, n_ctx, head_dim, scale, out);
  }
}

void attention_block(const AttentionBlock& b, const PagedKv& kv, int64_t head_dim, float scale) {
  if (b.n_tokens <= 0 || b.n_heads <= 0) return;
  PODSERVE_CHECK(b.n_ctx0 >= 1) << "attention_block: a query must see at least its own position";
  if (has_avx2() && head_dim % 8 == 0) {
    avx2::attention_block(b, kv, head_dim, scale);
  } else {
    ref::attention_block(b, kv, head_dim, scale);
  }
}

}  // namespace cpu
}  // namespace podserve::kernels
