// cuda_kernel_bench: the device kernels' speed against the card's own ceilings, measured first (a device-to-device
// copy for bandwidth, a large cuBLASLt bf16 GEMM for tensor-core rate). Llama-3-8B shapes, random data, CUDA events,
// the median of 20 timed runs after warm-ups, weights rotated over copies larger than L2. Prints a table; with
// --json FILE also writes the figures. Not a test (no pass/fail); scripts/device-check runs it on a lent GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

#define CHECK_CUDA(expr)                                                                 \
  do {                                                                                   \
    const cudaError_t err_ = (expr);                                                     \
    if (err_ != cudaSuccess) {                                                           \
      std::fprintf(stderr, "%s: %s\n", #expr, cudaGetErrorString(err_));                 \
      std::exit(1);                                                                      \
    }                                                                                    \
  } while (0)
#define CHECK_OK(expr)                                                                   \
  do {                                                                                   \
    const Status st_ = (expr);                                                           \
    if (!st_.ok()) {                                                                     \
      std::fprintf(stderr, "%s: %s\n", #expr, st_.to_string().c_str());                 \
      std::exit(1);                                                                      \
    }                                                                                    \
  } while (0)

// Device memory filled with random bytes of a sane kind: floats in [-1, 1), or 16-bit floats in [-1, 1).
struct Buffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t n) : bytes(n) { CHECK_CUDA(cudaMalloc(&p, n)); }
  ~Buffer() { cudaFree(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};

void fill_f32(Buffer& b, uint32_t seed) {
  std::vector<float> h(b.bytes / 4);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (float& x : h) x = d(rng);
  CHECK_CUDA(cudaMemcpy(b.p, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
}
// 16-bit words that are all finite bf16 (bf16 = true) or fp16 values in (-1, 1), so any 2-byte field of a weight
// block read as a scale is finite too.
void fill_16(Buffer& b, uint32_t seed, bool bf16) {
  std::vector<uint16_t> h(b.bytes / 2);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (uint16_t& x : h) {
    const float f = d(rng);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if (bf16) {
      x = static_cast<uint16_t>(u >> 16);
    } else {  // fp16 of |f| < 1: exponent and mantissa rebiased (truncated)
      const uint32_t sign = (u >> 16) & 0x8000u, exp = (u >> 23) & 0xFF, mant = u & 0x7FFFFF;
      x = exp < 113 ? static_cast<uint16_t>(sign) : static_cast<uint16_t>(sign | ((exp - 112) << 10) | (mant >> 13));
    }
  }
  CHECK_CUDA(cudaMemcpy(b.p, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
}

// Median milliseconds of fn over 20 runs after 3 warm-ups (fn may rotate over inputs by its argument).
double time_ms(const std::function<void(int)>& fn) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn(i);
  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) {
    CHECK_CUDA(cudaEventRecord(a));
    fn(i);
    CHECK_CUDA(cudaEventRecord(b));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  CHECK_CUDA(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Row {
  std::string name;
  double ms, value;
  std::string unit;
  double of_ceiling;  // fraction of the measured ceiling
};
std::vector<Row> rows;

void report(const std::string& name, double ms, double value, const char* unit, double ceiling) {
  rows.push_back({name, ms, value, unit, value / ceiling});
  std::printf("%-52s %9.3f ms %9.1f %-7s %5.1f%%\n", name.c_str(), ms, value, unit, 100.0 * value / ceiling);
  std::fflush(stdout);
}

}  // namespace

int bench_main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = argv[i + 1];
  }
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s, %d SMs, %.0f MB L2\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6);

  // Ceilings: copy bandwidth (bytes read + written) and a large bf16 GEMM.
  double bw = 0.0, tflops_peak = 0.0;
  {
    Buffer src(size_t{1} << 30), dst(size_t{1} << 30);
    const double ms = time_ms([&](int) { CHECK_CUDA(cudaMemcpyAsync(dst.p, src.p, src.bytes, cudaMemcpyDeviceToDevice)); });
    bw = 2.0 * src.bytes / ms / 1e6;
    report("copy 1 GiB device to device (read + write)", ms, bw, "GB/s", bw);
  }
  auto gemm_ctx = GemmContext::create(8192, 14336, 0, nullptr);
  CHECK_OK(gemm_ctx.status());
  {
    const int64_t m = 8192;
    Buffer w(size_t(m) * m * 2), x(size_t(m) * m * 4), y(size_t(m) * m * 4);
    fill_16(w, 1, true);
    fill_f32(x, 2);
    const MatrixView wv{DType::kBF16, w.as<uint8_t>(), m, m};
    // The GEMM converts x to bf16 first; that pass is part of what podserve runs, and of this time.
    const double ms = time_ms([&](int) { CHECK_OK((*gemm_ctx)->gemm(wv, x.as<float>(), m, m, nullptr, y.as<float>(), m, nullptr)); });
    tflops_peak = 2.0 * m * m * m / ms / 1e9;
    report("cuBLASLt bf16 8192^3 (x float32 -> bf16 included)", ms, tflops_peak, "TFLOP/s", tflops_peak);
  }

  // Decode GEMVs at Llama-3-8B shapes (q|k|v fused, o, gate|up fused, down, lm_head), weights rotated over
  // copies so that each run reads HBM.
  struct Shape {
    const char* name;
    int64_t rows, cols;
  };
  const Shape shapes[] = {{"qkv 6144x4096", 6144, 4096}, {"o 4096x4096", 4096, 4096}, {"gate|up 28672x4096", 28672, 4096},
                          {"down 4096x14336", 4096, 14336}, {"lm_head 128256x4096", 128256, 4096}};
  for (DType type : {DType::kBF16, DType::kQ8_0, DType::kQ4_K}) {
    for (const Shape& s : shapes) {
      if (type != DType::kBF16 && s.rows == 128256) continue;
      const size_t bytes = dtype_row_bytes(type, s.cols) * s.rows;
      const int copies = static_cast<int>(std::max<size_t>(1, (size_t{200} << 20) / bytes + 1));
      std::vector<std::unique_ptr<Buffer>> ws;
      for (int c = 0; c < copies; ++c) {
        ws.push_back(std::make_unique<Buffer>(bytes));
        fill_16(*ws.back(), 10 + c, type == DType::kBF16);  // quantized: finite fp16 scales, random quants
      }
      Buffer x(size_t(8) * s.cols * 4), y(size_t(8) * s.rows * 4);
      fill_f32(x, 3);
      for (int64_t n : {int64_t{1}, int64_t{8}}) {
        const double ms = time_ms([&](int i) {
          const MatrixView wv{type, ws[i % copies]->as<uint8_t>(), s.rows, s.cols};
          CHECK_OK(gemv(wv, x.as<float>(), s.cols, n, nullptr, y.as<float>(), s.rows, nullptr));
        });
        const double gbs = bytes / ms / 1e6;
        report(std::string("gemv ") + dtype_name(type) + " " + s.name + " n=" + std::to_string(n), ms, gbs, "GB/s", bw);
      }
    }
  }

  // Decode attention, Llama-3-8B heads (32 / 8 x 128), fp16 cache: 128 sequences of 640, and 1 of 32768.
  for (auto [seqs, len] : {std::pair<int64_t, int64_t>{128, 640}, std::pair<int64_t, int64_t>{1, 32768}}) {
    AttentionShape shape;
    shape.n_heads = 32;
    shape.n_kv_heads = 8;
    shape.head_dim = 128;
    shape.scale = 1.0f / std::sqrt(128.0f);
    const int64_t blocks_per_seq = (len + 15) / 16, slots = seqs * blocks_per_seq * 16, kv_dim = 8 * 128;
    Buffer k(size_t(slots) * kv_dim * 2), v(size_t(slots) * kv_dim * 2);
    fill_16(k, 4, false);
    fill_16(v, 5, false);
    std::vector<int32_t> table(seqs * blocks_per_seq), lens(seqs, static_cast<int32_t>(len));
    for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>((i * 7919) % table.size());
    Buffer d_table(table.size() * 4), d_lens(lens.size() * 4), q(size_t(seqs) * 32 * 128 * 4), out(size_t(seqs) * 32 * 128 * 4);
    Buffer scratch(attention_decode_scratch_bytes(seqs, 32, 128));
    CHECK_CUDA(cudaMemcpy(d_table.p, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(d_lens.p, lens.data(), lens.size() * 4, cudaMemcpyHostToDevice));
    fill_f32(q, 6);
    const PagedKvCache cache{k.p, v.p, KvType::kF16, kv_dim, 16};
    const double ms = time_ms([&](int) {
      CHECK_OK(attention_decode(shape, q.as<float>(), 32 * 128, cache, BlockTables{d_table.as<int32_t>(), static_cast<int32_t>(blocks_per_seq)},
                                d_lens.as<int32_t>(), seqs, scratch.p, out.as<float>(), 32 * 128, nullptr));
    });
    const double gbs = 2.0 * seqs * len * kv_dim * 2 / ms / 1e6;
    report("attention_decode 32/8x128 fp16, " + std::to_string(seqs) + " x " + std::to_string(len), ms, gbs, "GB/s", bw);
  }

  // Prefill attention: one 2048-token prompt, Llama-3-8B heads, both kernels; causal FLOPs 4 * T^2 / 2 * d * heads.
  {
    const int64_t T = 2048, kv_dim = 8 * 128;
    AttentionShape shape;
    shape.n_heads = 32;
    shape.n_kv_heads = 8;
    shape.head_dim = 128;
    shape.scale = 1.0f / std::sqrt(128.0f);
    Buffer k(size_t(T) * kv_dim * 2), v(size_t(T) * kv_dim * 2), q(size_t(T) * 32 * 128 * 4), out(size_t(T) * 32 * 128 * 4);
    fill_16(k, 7, true);
    fill_16(v, 8, true);
    fill_f32(q, 9);
    std::vector<int32_t> table(T / 16), cu = {0, static_cast<int32_t>(T)}, lens = {static_cast<int32_t>(T)};
    for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
    Buffer d_table(table.size() * 4), d_cu(8), d_lens(4);
    CHECK_CUDA(cudaMemcpy(d_table.p, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(d_cu.p, cu.data(), 8, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(d_lens.p, lens.data(), 4, cudaMemcpyHostToDevice));
    const PagedKvCache cache{k.p, v.p, KvType::kBF16, kv_dim, 16};
    const double flops = 4.0 * T * T / 2 * 128 * 32;
    for (PrefillAttentionKernel kind : {PrefillAttentionKernel::kAuto, PrefillAttentionKernel::kCudaCores}) {
      set_prefill_attention_kernel(kind);
      const double ms = time_ms([&](int) {
        CHECK_OK(attention_prefill(shape, q.as<float>(), 32 * 128, cache, BlockTables{d_table.as<int32_t>(), static_cast<int32_t>(table.size())},
                                   d_cu.as<int32_t>(), d_lens.as<int32_t>(), 1, T, out.as<float>(), 32 * 128, nullptr));
      });
      report(std::string("attention_prefill 2048 causal, ") + (kind == PrefillAttentionKernel::kAuto ? "tensor cores" : "CUDA cores"),
             ms, flops / ms / 1e9, "TFLOP/s", tflops_peak);
    }
    set_prefill_attention_kernel(PrefillAttentionKernel::kAuto);
  }

  // Prefill GEMMs at pp2048 (bf16 weights; Q4_K dequantized to bf16 per call).
  {
    const int64_t T = 2048;
    Buffer x(size_t(T) * 14336 * 4), y(size_t(T) * 28672 * 4);
    fill_f32(x, 11);
    for (const Shape& s : shapes) {
      if (s.rows == 128256) continue;
      Buffer w(dtype_row_bytes(DType::kBF16, s.cols) * s.rows);
      fill_16(w, 12, true);
      const MatrixView wv{DType::kBF16, w.as<uint8_t>(), s.rows, s.cols};
      const double ms = time_ms([&](int) { CHECK_OK((*gemm_ctx)->gemm(wv, x.as<float>(), s.cols, T, nullptr, y.as<float>(), s.rows, nullptr)); });
      report(std::string("gemm bf16 ") + s.name + " x 2048 tokens", ms, 2.0 * T * s.rows * s.cols / ms / 1e9, "TFLOP/s", tflops_peak);
    }
  }

  if (json != nullptr) {
    FILE* f = std::fopen(json, "w");
    if (f == nullptr) return 1;
    std::fprintf(f, "{\"device\": \"%s\", \"copy_gbs\": %.1f, \"gemm_tflops\": %.1f, \"rows\": [", prop.name, bw, tflops_peak);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::fprintf(f, "%s{\"name\": \"%s\", \"ms\": %.4f, \"value\": %.2f, \"unit\": \"%s\", \"of_ceiling\": %.4f}",
                   i ? ", " : "", rows[i].name.c_str(), rows[i].ms, rows[i].value, rows[i].unit.c_str(), rows[i].of_ceiling);
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}

}  // namespace podserve::kernels::cuda

int main(int argc, char** argv) { return podserve::kernels::cuda::bench_main(argc, argv); }
