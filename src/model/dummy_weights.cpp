#include "model/dummy_weights.h"

#include <sys/mman.h>

#include <chrono>
#include <cstring>

#include "base/fp16.h"
#include "model/dummy_hash.h"

namespace podserve {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;
constexpr int64_t kParallelFillElements = int64_t{1} << 16;  // smaller tensors are filled by the calling thread

// The fill loops: the AVX2 clone vectorizes the 64-bit hash (2x the plain x86-64 one, which uses SSE2); the
// values are the same bits on every path (dummy_hash.h: only one rounding, no fused operation can change).
#if defined(__x86_64__) && defined(__GNUC__)
#define PODSERVE_FILL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PODSERVE_FILL_CLONES
#endif

PODSERVE_FILL_CLONES void fill_f32(uint64_t stream, uint64_t first, int64_t n, float* o) {
  for (int64_t i = 0; i < n; ++i) o[i] = dummy::value(stream, first + static_cast<uint64_t>(i));
}

PODSERVE_FILL_CLONES void fill_bf16(uint64_t stream, uint64_t first, int64_t n, uint16_t* o) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = dummy::value(stream, first + static_cast<uint64_t>(i));
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits += 0x7fffu + ((bits >> 16) & 1u);  // float_to_bf16's rounding; the values are finite (no NaN case)
    o[i] = static_cast<uint16_t>(bits >> 16);
  }
}

void fill_f16(uint64_t stream, uint64_t first, int64_t n, uint16_t* o) {
  for (int64_t i = 0; i < n; ++i) o[i] = float_to_fp16(dummy::value(stream, first + static_cast<uint64_t>(i)));
}

}  // namespace

Result<DType> dummy_weight_type(WeightDType requested, const std::string& config_dtype) {
  switch (requested) {
    case WeightDType::kFloat32: return DType::kF32;
    case WeightDType::kBFloat16: return DType::kBF16;
    case WeightDType::kFloat16: return DType::kF16;
    case WeightDType::kAuto: break;
  }
  if (config_dtype.empty() || config_dtype == "float32" || config_dtype == "float") return DType::kF32;
  if (config_dtype == "bfloat16") return DType::kBF16;
  if (config_dtype == "float16" || config_dtype == "half") return DType::kF16;
  return unimplemented("config.json's dtype '" + config_dtype +
                       "' is not one dummy weights can take (float32, bfloat16, float16): set DTYPE / --dtype");
}

void fill_dummy_values(DType type, uint64_t stream, uint64_t first, int64_t n, void* out) {
  if (type == DType::kF32) fill_f32(stream, first, n, static_cast<float*>(out));
  else if (type == DType::kBF16) fill_bf16(stream, first, n, static_cast<uint16_t*>(out));
  else fill_f16(stream, first, n, static_cast<uint16_t*>(out));
}

DummyWeights::DummyWeights(DType type, uint64_t seed, int num_threads)
    : type_(type), seed_(seed), pool_(std::make_unique<ThreadPool>(num_threads)) {}

DummyWeights::~DummyWeights() {
  for (const Mapping& m : mappings_) ::munmap(m.data, m.bytes);
}

Result<SafetensorsTensor> DummyWeights::make(const std::string& name, const std::vector<int64_t>& shape) {
  if (type_ != DType::kF32 && type_ != DType::kBF16 && type_ != DType::kF16) {
    return invalid_argument("dummy weights are float32, bfloat16 or float16");
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kMaxElements / d)) return invalid_argument("dummy tensor '" + name + "' is too large");
    n *= d;
  }
  SafetensorsTensor t;
  t.name = name;
  t.type = type_;
  t.shape = shape;
  t.nbytes = static_cast<size_t>(n) * static_cast<size_t>(dtype_block_bytes(type_));
  if (t.nbytes > 0) {
    // Anonymous memory: page-aligned, and its pages are first touched by the fill threads below.
    void* p = ::mmap(nullptr, t.nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      return resource_exhausted("cannot allocate " + std::to_string(t.nbytes >> 20) + " MiB for dummy tensor '" +
                                name + "'");
    }
    mappings_.push_back({p, t.nbytes});
#ifdef MADV_HUGEPAGE
    if (t.nbytes >= (size_t{2} << 20)) ::madvise(p, t.nbytes, MADV_HUGEPAGE);  // fewer faults; a hint only
#endif
    const uint64_t stream = dummy::tensor_stream(seed_, dummy::tensor_key(name));
    uint8_t* base = static_cast<uint8_t*>(p);
    const int64_t elem = dtype_block_bytes(type_);
    if (pool_ != nullptr && n >= kParallelFillElements) {
      pool_->parallel_for(n, [&](int64_t begin, int64_t end) {
        fill_dummy_values(type_, stream, static_cast<uint64_t>(begin), end - begin, base + begin * elem);
      });
    } else {
      fill_dummy_values(type_, stream, 0, n, base);
    }
    t.data = base;
  }
  layout_.push_back({name, shape});
  stats_.tensors += 1;
  stats_.bytes += t.nbytes;
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

DummyFillStats DummyWeights::finish() {
  pool_.reset();
  return stats_;
}

}  // namespace podserve
