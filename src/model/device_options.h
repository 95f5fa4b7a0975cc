// Where and how a model runs: the device, the load format, the K/V precision, GPU memory and CUDA-graph settings,
// as plain values. serve/option_table.cpp fills them from the vLLM worker's variables (DEVICE, LOAD_FORMAT,
// KV_CACHE_DTYPE, GPU_MEMORY_UTILIZATION, KV_CACHE_MEMORY_BYTES, NUM_GPU_BLOCKS_OVERRIDE, ENFORCE_EAGER,
// CUDA_GRAPH_SIZES, COMPILATION_CONFIG, MAX_SEQ_LEN_TO_CAPTURE); the model and engine layers read them without
// depending on serve. The parsers accept vLLM's spellings; their errors say what podserve accepts, and the caller
// prefixes the variable or flag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve {

/// DEVICE / --device. auto: the GPU when this build has CUDA and one is visible, else the CPU.
enum class Device { kAuto, kCpu, kCuda };

/// LOAD_FORMAT / --load-format. auto: a .gguf file or a Hugging Face directory, by what the path is.
/// dummy: vLLM's DummyModelLoader, random weights from config.json alone (model/dummy_weights.h).
enum class LoadFormat { kAuto, kSafetensors, kGguf, kDummy };

/// KV_CACHE_DTYPE / --kv-cache-dtype. auto: the model's precision (on the CPU: float32 for float32 models, else
/// float16, the CPU path's K/V types). fp8 is E4M3 (vLLM's `fp8`).
enum class KvCacheDType { kAuto, kFloat16, kBFloat16, kFp8E4M3, kFp8E5M2 };

/// CUDA graphs of decode steps (vLLM's CompilationConfig.cudagraph_capture_sizes / max_cudagraph_capture_size,
/// --enforce-eager, the older --cuda-graph-sizes and --max-seq-len-to-capture). See model/cuda_graphs.h.
struct CudaGraphOptions {
  bool enforce_eager = false;
  std::vector<int> capture_sizes;  // empty: vLLM's default list up to max_capture_size
  int max_capture_size = 0;        // 0: min(2 * max_num_seqs, 512)
  int max_seq_len_to_capture = 0;  // 0: no limit; else a batch holding a longer sequence runs eagerly
};

/// Everything device-specific the backend needs, in one value.
struct DeviceOptions {
  Device device = Device::kAuto;
  KvCacheDType kv_cache_dtype = KvCacheDType::kAuto;
  double gpu_memory_utilization = 0.9;  // vLLM's long-time default (newest vLLM 0.92; RunPod's worker passes 0.95)
  uint64_t kv_cache_memory_bytes = 0;   // > 0: the KV cache size, no memory profiling (vLLM's kv_cache_memory_bytes)
  int64_t num_gpu_blocks_override = 0;  // > 0: exactly this many KV blocks
  CudaGraphOptions cuda_graphs;
};

Result<Device> parse_device(std::string_view text);
Result<LoadFormat> parse_load_format(std::string_view text);
Result<KvCacheDType> parse_kv_cache_dtype(std::string_view text);

/// CUDA_GRAPH_SIZES / --cuda-graph-sizes (vLLM 0.9-0.10's flag): sizes separated by commas or spaces, in
/// brackets or not. One size N is the largest captured size (the default list up to N, as vLLM maps it onto
/// max_cudagraph_capture_size); several are the list.
Status parse_cuda_graph_sizes(std::string_view text, CudaGraphOptions* out);

/// COMPILATION_CONFIG / --compilation-config: vLLM's JSON object. podserve reads cudagraph_capture_sizes,
/// max_cudagraph_capture_size and cudagraph_mode ("NONE" runs eagerly; every other mode captures decode-step
/// graphs, podserve's only kind). The other keys configure torch.compile, which podserve has no use for: their
/// names are returned so the caller can say they are ignored.
Result<std::vector<std::string>> parse_compilation_config(std::string_view text, CudaGraphOptions* out);

/// A byte count as vLLM's human_readable_int reads one: an integer, or a number with a suffix, k/m/g/t for powers
/// of 1000 and K/M/G/T for powers of 1024 ("4G" = 4 GiB, "1.5g" = 1.5e9).
Result<uint64_t> parse_byte_count(std::string_view text);

const char* device_name(Device d);
const char* load_format_name(LoadFormat f);
const char* kv_cache_dtype_name(KvCacheDType t);  // vLLM's canonical spelling ("float16", "fp8", ...)

/// Bytes per K/V element; 0 for kAuto (the model's precision decides).
int kv_cache_dtype_bytes(KvCacheDType t);

/// The CPU backend keeps K/V in float16, or float32 for models that compute in float32 (`model_kv_f32`).
/// KV_CACHE_DTYPE=auto and float16 (with a non-float32 model) are what it does; anything else is an error
/// naming KV_CACHE_DTYPE and what the CPU supports.
Status check_cpu_kv_cache_dtype(KvCacheDType requested, bool model_kv_f32);

}  // namespace podserve
