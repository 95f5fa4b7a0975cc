// GPU memory planning as vLLM's worker does it (gpu.md §1, §11 "Memory planning"): of the device's memory,
// GPU_MEMORY_UTILIZATION x total may be used; the weights, the profiled activation peak, the workspaces, the
// CUDA-graph pool and a safety margin come off it, and the rest becomes KV blocks. A pure function of measured
// figures, so the arithmetic, the log lines and every failure message are unit-tested without a GPU; the CUDA
// backend measures the inputs (cudaMemGetInfo, its arenas) and allocates what the plan says.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace podserve {

/// vLLM's suggested buffer for its --kv-cache-memory hint ("profiling may slightly underestimate").
inline constexpr uint64_t kDefaultSafetyMarginBytes = uint64_t{150} << 20;

/// The paged K/V of one block: `block_size` tokens x every layer x K and V x kv heads x head_dim.
struct KvBlockShape {
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int block_size = 16;
  int dtype_bytes = 2;  // KV_CACHE_DTYPE: 2 (float16 / bfloat16), 1 (fp8)
};

/// 2 x block_size x n_kv_heads x head_dim x dtype_bytes x n_layers (vLLM's page size x layers). 0 if any is <= 0.
uint64_t kv_block_bytes(const KvBlockShape& shape);

struct GpuMemoryInputs {
  std::string device = "cuda:0";     // for messages
  uint64_t total_bytes = 0;          // cudaMemGetInfo at start-up, before anything is loaded
  uint64_t free_bytes = 0;
  double gpu_memory_utilization = 0.9;
  uint64_t weight_bytes = 0;             // the model's weights on the device
  uint64_t activation_peak_bytes = 0;    // peak of the profiling forward at max_num_batched_tokens (+ sampler)
  uint64_t workspace_bytes = 0;          // non-arena memory: CUDA context growth, cuBLASLt workspaces, split scratch
  uint64_t cuda_graph_bytes = 0;         // the graph pool (0 with ENFORCE_EAGER)
  uint64_t safety_margin_bytes = 0;      // e.g. kDefaultSafetyMarginBytes
  uint64_t kv_cache_memory_bytes = 0;    // > 0: KV_CACHE_MEMORY_BYTES, used as is instead of the arithmetic
  int64_t num_gpu_blocks_override = 0;   // > 0: NUM_GPU_BLOCKS_OVERRIDE
  uint64_t block_bytes = 0;              // kv_block_bytes()
  int block_size = 16;
  int max_model_len = 0;
};

struct GpuMemoryPlan {
  int64_t num_blocks = 0;
  uint64_t requested_bytes = 0;     // total x utilization
  int64_t available_kv_bytes = 0;   // what the KV cache may take (before the block rounding)
  int64_t kv_tokens = 0;            // num_blocks x block_size
  double max_concurrency = 0;       // num_blocks / blocks of one max_model_len request
  std::vector<std::string> log_lines;  // as vLLM logs them: "Available KV cache memory: 56.18 GiB", ...
};

/// Plans the KV cache. Errors (InvalidArgument / ResourceExhausted) name the setting to change: free memory below
/// the requested fraction (vLLM's message), weights that do not fit, no room for a block (vLLM's "No available
/// memory for the cache blocks"), fewer blocks than one max_model_len request needs (vLLM's message with the
/// estimated maximum model length), an explicit KV size or block count that does not fit the free memory.
Result<GpuMemoryPlan> plan_gpu_memory(const GpuMemoryInputs& in);

/// 613024 -> "613,024" (Python's "{:,}").
std::string with_thousands(int64_t n);

}  // namespace podserve
