#include "bench_bandwidth.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/thread_pool.h"
#include "io/gguf.h"
#include "kernels/cpu/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace podserve {
namespace {

constexpr uint64_t kPage = 4096;
constexpr int kMaxPasses = 10000;

// Every pass's sum ends up here, so the compiler must keep every load.
volatile uint64_t g_sink = 0;

// Sums of 64-bit words over [p, p + n), n a multiple of kPage. Four independent accumulators keep several
// loads in flight, as the matmul kernels do; the sum depends on every byte, so no load can be dropped.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint8_t* p, uint64_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (uint64_t i = 0; i < n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t sum = 0;
  for (uint64_t lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, uint64_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (uint64_t i = 0; i < n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

uint64_t sum_scalar(const uint8_t* p, uint64_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (uint64_t i = 0; i < n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    a0 += w[0], a1 += w[1], a2 += w[2], a3 += w[3];
  }
  return a0 + a1 + a2 + a3;
}

using SumFn = uint64_t (*)(const uint8_t*, uint64_t);

SumFn pick_sum() {
#if defined(__x86_64__)
  const kernels::cpu::Isa isa = kernels::cpu::active_isa();
  if (isa >= kernels::cpu::Isa::kAvx512) return sum_avx512;
  if (isa >= kernels::cpu::Isa::kAvx2) return sum_avx2;
#endif
  return sum_scalar;
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// The size in bytes of a sysfs cache "size" file ("491520K"); 0 if unreadable.
uint64_t read_sysfs_size(const std::filesystem::path& file) {
  std::ifstream in(file);
  uint64_t value = 0;
  char unit = 0;
  if (!(in >> value)) return 0;
  in >> unit;
  return unit == 'K' ? value << 10 : unit == 'M' ? value << 20 : unit == 'G' ? value << 30 : value;
}

}  // namespace

const char* bandwidth_isa_name() {
  const SumFn sum = pick_sum();
#if defined(__x86_64__)
  if (sum == sum_avx512) return "avx512";
  if (sum == sum_avx2) return "avx2";
#endif
  return "scalar";
}

Result<uint64_t> weight_bytes_per_token(const std::string& model_path) {
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) {
    uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(model_path, ec)) {
      if (e.path().extension() == ".safetensors") total += e.file_size(ec);
    }
    if (total == 0) return Status(StatusCode::kNotFound, "no .safetensors files in " + model_path);
    return total;
  }
  PODSERVE_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(model_path));
  const bool separate_output = file.find_tensor("output.weight") != nullptr;
  uint64_t total = 0;
  for (const GgufTensor& t : file.tensors()) {
    if (!(separate_output && t.name == "token_embd.weight")) total += t.nbytes;
  }
  return total;
}

uint64_t last_level_cache_bytes() {
  for (int name : {_SC_LEVEL4_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long size = sysconf(name);
    if (size > 0) return static_cast<uint64_t>(size);
  }
  // sysconf knows nothing (non-glibc, some VMs): the highest-level cache sysfs lists for cpu0.
  int best_level = 0;
  uint64_t best = 0;
  std::error_code ec;
  for (int i = 0; i < 16; ++i) {
    const std::filesystem::path dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i);
    if (!std::filesystem::exists(dir, ec)) break;
    std::ifstream level_file(dir / "level");
    int level = 0;
    if (level_file >> level && level > best_level) {
      best_level = level;
      best = read_sysfs_size(dir / "size");
    }
  }
  return best;
}

Result<BandwidthResult> measure_read_bandwidth(uint64_t bytes, int threads, int min_passes, double min_seconds) {
  if (bytes == 0 || min_passes < 1) return Status(StatusCode::kInvalidArgument, "empty bandwidth probe");
  bytes = (bytes + kPage - 1) / kPage * kPage;
  std::unique_ptr<uint8_t, FreeDeleter> buffer(static_cast<uint8_t*>(std::aligned_alloc(kPage, bytes)));
  if (!buffer) {
    return Status(StatusCode::kResourceExhausted, "cannot allocate " + std::to_string(bytes) + " bytes");
  }
  const auto pages = static_cast<int64_t>(bytes / kPage);
  ThreadPool pool(threads);
  uint8_t* data = buffer.get();
  // Written by the pool's threads, so pages land where a first-touch NUMA policy puts the readers' memory.
  pool.parallel_for(pages, [data](int64_t begin, int64_t end) {
    for (int64_t page = begin; page < end; ++page) std::memset(data + page * kPage, static_cast<int>(page), kPage);
  });
  const SumFn sum = pick_sum();
  std::atomic<uint64_t> total{0};
  const auto read_all = [&] {
    pool.parallel_for(pages, [&](int64_t begin, int64_t end) {
      total.fetch_add(sum(data + begin * kPage, static_cast<uint64_t>(end - begin) * kPage),
                      std::memory_order_relaxed);
    });
  };
  read_all();  // warm-up
  BandwidthResult result;
  result.bytes = bytes;
  double timed = 0;
  while (result.passes < kMaxPasses && (result.passes < min_passes || timed < min_seconds)) {
    const auto start = std::chrono::steady_clock::now();
    read_all();
    result.pass_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    timed += result.pass_seconds.back();
    ++result.passes;
  }
  g_sink = total.load();
  std::vector<double> sorted = result.pass_seconds;
  std::sort(sorted.begin(), sorted.end());
  result.best_gbs = static_cast<double>(bytes) / sorted.front() / 1e9;
  result.median_gbs = static_cast<double>(bytes) / sorted[sorted.size() / 2] / 1e9;
  return result;
}

}  // namespace podserve
