// `podserve bench --mode bandwidth`: the read bandwidth behind tg's memory-bandwidth bound, measured the way
// decode reads its weights: the same ThreadPool class, the same thread count, the widest vector loads the
// kernels use on this CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench_runs.h"

namespace podserve {

struct BandwidthResult {
  uint64_t bytes = 0;
  int passes = 0;
  std::vector<double> pass_seconds;  // one per timed pass, in order
  double best_gbs = 0;               // bytes / fastest pass, in 1e9 bytes/s
  double median_gbs = 0;
};

/// Bytes of weights a decode step reads from a model file: every tensor of a GGUF once, except the token
/// embedding when a separate output matrix exists (then one embedding row is read, not counted); the
/// *.safetensors files of a Hugging Face directory (tied embeddings are stored once there).
Result<uint64_t> weight_bytes_per_token(const std::string& model_path);

/// The last-level cache size from sysconf / sysfs; 0 when unknown.
uint64_t last_level_cache_bytes();

/// Reads a buffer of `bytes` (rounded up to 4 KiB) with `threads` threads of a ThreadPool, summing every
/// 64-bit word with vector loads (so nothing is optimized away); one untimed warm-up pass (it also commits the
/// pages, as decode's previous token would have warmed the cache), then timed passes until both `min_passes`
/// and `min_seconds` are reached (at most 10000 passes). On a shared machine the best pass is the one that ran
/// with the cores and caches to itself, so more passes give a truer best.
Result<BandwidthResult> measure_read_bandwidth(uint64_t bytes, int threads, int min_passes, double min_seconds);

/// Name of the load width the probe uses on this CPU: "avx512", "avx2" or "scalar".
const char* bandwidth_isa_name();

}  // namespace podserve
