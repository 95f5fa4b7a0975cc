#include "model/memory_plan.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace podserve {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double gib(double bytes) { return bytes / kGiB; }

// "%.2f" of bytes in GiB, as vLLM's "Available KV cache memory: 56.18 GiB" and its error messages print them.
std::string gib2(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", gib(bytes));
  return buf;
}

// Python's str(round(x, 2)): vLLM's free-memory message prints GiB figures that way ("2.6", "121.63").
std::string py_round2(double x) {
  std::string s = [&] {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", x);
    return std::string(buf);
  }();
  while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}

// Python's repr of a float ("0.9", "1.0").
std::string py_float(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

const char* kUtilization = "GPU_MEMORY_UTILIZATION / --gpu-memory-utilization";

}  // namespace

uint64_t kv_block_bytes(const KvBlockShape& s) {
  if (s.n_layers <= 0 || s.n_kv_heads <= 0 || s.head_dim <= 0 || s.block_size <= 0 || s.dtype_bytes <= 0) return 0;
  return uint64_t{2} * static_cast<uint64_t>(s.block_size) * static_cast<uint64_t>(s.n_kv_heads) *
         static_cast<uint64_t>(s.head_dim) * static_cast<uint64_t>(s.dtype_bytes) * static_cast<uint64_t>(s.n_layers);
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

Result<GpuMemoryPlan> plan_gpu_memory(const GpuMemoryInputs& in) {
  const double u = in.gpu_memory_utilization;
  if (!(u > 0.0 && u <= 1.0)) {
    return invalid_argument(std::string(kUtilization) + " must be in (0, 1], got " + py_float(u));
  }
  if (in.total_bytes == 0 || in.free_bytes > in.total_bytes) {
    return invalid_argument("device memory figures are inconsistent (free " + gib2(static_cast<double>(in.free_bytes)) +
                            " GiB of " + gib2(static_cast<double>(in.total_bytes)) + " GiB)");
  }
  if (in.block_bytes == 0 || in.block_size <= 0 || in.max_model_len <= 0) {
    return invalid_argument("KV planning needs a block size, block bytes and max_model_len > 0");
  }
  GpuMemoryPlan plan;
  const double total = static_cast<double>(in.total_bytes), free = static_cast<double>(in.free_bytes);
  const double requested = total * u;
  plan.requested_bytes = static_cast<uint64_t>(requested);
  if (free < requested) {
    return resource_exhausted("Free memory on device " + in.device + " (" + py_round2(gib(free)) + "/" +
                              py_round2(gib(total)) + " GiB) on startup is less than desired GPU memory utilization (" +
                              py_float(u) + ", " + py_round2(gib(requested)) +
                              " GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes. (" +
                              kUtilization + ")");
  }
  const double weights = static_cast<double>(in.weight_bytes);
  const double others = static_cast<double>(in.activation_peak_bytes) + static_cast<double>(in.workspace_bytes) +
                        static_cast<double>(in.cuda_graph_bytes) + static_cast<double>(in.safety_margin_bytes);
  const std::string breakdown = "weights " + gib2(weights) + " GiB, activation peak " +
                                gib2(static_cast<double>(in.activation_peak_bytes)) + " GiB, workspaces " +
                                gib2(static_cast<double>(in.workspace_bytes)) + " GiB, CUDA graphs " +
                                gib2(static_cast<double>(in.cuda_graph_bytes)) + " GiB, margin " +
                                gib2(static_cast<double>(in.safety_margin_bytes)) + " GiB";
  double available = 0;
  if (in.kv_cache_memory_bytes > 0) {
    available = static_cast<double>(in.kv_cache_memory_bytes);
    plan.log_lines.push_back("Reserved " + gib2(available) +
                             " GiB of memory for the KV cache as KV_CACHE_MEMORY_BYTES / --kv-cache-memory-bytes "
                             "asks; GPU_MEMORY_UTILIZATION does not apply to it");
    if (weights + others + available > free) {
      return resource_exhausted("The KV cache of " + gib2(available) + " GiB set by KV_CACHE_MEMORY_BYTES / "
                                "--kv-cache-memory-bytes does not fit on " + in.device + ": " + breakdown +
                                " leave " + gib2(free - weights - others) + " GiB of the " + gib2(free) +
                                " GiB free. Lower KV_CACHE_MEMORY_BYTES.");
    }
  } else {
    if (weights > requested) {
      const std::string fix = weights > total ? "the card is too small for it: use a smaller or quantized model"
                                              : "raise " + std::string(kUtilization) + " or use a smaller or "
                                                "quantized model";
      return resource_exhausted("The model's weights (" + gib2(weights) + " GiB) do not fit in the " +
                                gib2(requested) + " GiB podserve may use on " + in.device + " (" + kUtilization +
                                " = " + py_float(u) + " of " + gib2(total) + " GiB): " + fix);
    }
    available = requested - weights - others;
    plan.log_lines.push_back("Available KV cache memory: " + gib2(available) + " GiB");
    if (available <= 0) {
      return resource_exhausted("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
                                "when initializing the engine. (" + std::string(kUtilization) + " = " + py_float(u) +
                                ": " + gib2(requested) + " GiB, of which " + breakdown + ")");
    }
  }
  plan.available_kv_bytes = static_cast<int64_t>(available);
  const double block_bytes = static_cast<double>(in.block_bytes);
  int64_t num_blocks = static_cast<int64_t>(std::floor(available / block_bytes));
  if (in.num_gpu_blocks_override > 0) {
    plan.log_lines.push_back("Overriding num_gpu_blocks=" + std::to_string(num_blocks) +
                             " with num_gpu_blocks_override=" + std::to_string(in.num_gpu_blocks_override));
    if (static_cast<double>(in.num_gpu_blocks_override) * block_bytes > available) {
      return resource_exhausted("NUM_GPU_BLOCKS_OVERRIDE / --num-gpu-blocks-override = " +
                                std::to_string(in.num_gpu_blocks_override) + " blocks need " +
                                gib2(static_cast<double>(in.num_gpu_blocks_override) * block_bytes) +
                                " GiB, more than the " + gib2(available) + " GiB available for the KV cache");
    }
    num_blocks = in.num_gpu_blocks_override;
  }
  if (num_blocks == 0) {
    return resource_exhausted("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
                              "when initializing the engine. (" + gib2(available) + " GiB left for the KV cache, "
                              "less than one block of " + gib2(block_bytes) + " GiB; " + kUtilization + ")");
  }
  const int64_t blocks_per_request = (in.max_model_len + in.block_size - 1) / in.block_size;
  if (num_blocks < blocks_per_request) {
    const std::string setting = in.num_gpu_blocks_override > 0 ? "NUM_GPU_BLOCKS_OVERRIDE, "
                                : in.kv_cache_memory_bytes > 0 ? "KV_CACHE_MEMORY_BYTES, "
                                                               : "GPU_MEMORY_UTILIZATION, ";
    return resource_exhausted(
        "To serve at least one request with the model's max seq len (" + std::to_string(in.max_model_len) + "), (" +
        gib2(static_cast<double>(blocks_per_request) * block_bytes) +
        " GiB KV cache is needed, which is larger than the available KV cache memory (" +
        gib2(static_cast<double>(num_blocks) * block_bytes) +
        " GiB). Based on the available memory, the estimated maximum model length is " +
        std::to_string(num_blocks * in.block_size) +
        ". Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine. (" +
        setting + "MAX_MODEL_LEN / --max-model-len)");
  }
  plan.num_blocks = num_blocks;
  plan.kv_tokens = num_blocks * in.block_size;
  plan.max_concurrency = static_cast<double>(num_blocks) / static_cast<double>(blocks_per_request);
  char concurrency[64];
  std::snprintf(concurrency, sizeof concurrency, "%.2f", plan.max_concurrency);
  plan.log_lines.push_back("GPU KV cache size: " + with_thousands(plan.kv_tokens) + " tokens");
  plan.log_lines.push_back("Maximum concurrency for " + with_thousands(in.max_model_len) +
                           " tokens per request: " + concurrency + "x");
  return plan;
}

}  // namespace podserve
