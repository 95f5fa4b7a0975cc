#include "model/cuda_graphs.h"

#include <algorithm>

namespace podserve {
namespace {

constexpr int kDefaultMaxCaptureSize = 512;  // vLLM: more large graphs cost start-up time for little gain

std::vector<int> default_sizes(int max_size) {
  std::vector<int> sizes;
  for (int s : {1, 2, 4}) {
    if (s <= max_size) sizes.push_back(s);
  }
  for (int s = 8; s < 256 && s <= max_size; s += 8) sizes.push_back(s);  // step 8 below 256
  for (int s = 256; s <= max_size; s += 16) sizes.push_back(s);          // step 16 from 256
  return sizes;
}

}  // namespace

int CudaGraphPlan::padded_size(int num_tokens, int longest_seq_len) const {
  if (num_tokens < 1 || sizes.empty() || num_tokens > sizes.back()) return 0;
  if (max_seq_len > 0 && longest_seq_len > max_seq_len) return 0;
  return *std::lower_bound(sizes.begin(), sizes.end(), num_tokens);
}

Result<CudaGraphPlan> plan_cuda_graphs(const CudaGraphOptions& options, int max_num_seqs, int max_num_batched_tokens) {
  if (max_num_seqs < 1 || max_num_batched_tokens < 1) {
    return invalid_argument("CUDA graph planning needs max_num_seqs and max_num_batched_tokens >= 1");
  }
  CudaGraphPlan plan;
  plan.max_seq_len = options.max_seq_len_to_capture;
  if (options.enforce_eager) return plan;
  for (int s : options.capture_sizes) {
    if (s < 1) return invalid_argument("CUDA graph capture sizes must be >= 1, got " + std::to_string(s));
  }
  int max_size = options.max_capture_size > 0 ? options.max_capture_size
                                              : std::min(2 * max_num_seqs, kDefaultMaxCaptureSize);
  max_size = std::min(max_size, max_num_batched_tokens);
  if (!options.capture_sizes.empty()) {
    plan.sizes = options.capture_sizes;
    std::sort(plan.sizes.begin(), plan.sizes.end());
    plan.sizes.erase(std::unique(plan.sizes.begin(), plan.sizes.end()), plan.sizes.end());
    std::erase_if(plan.sizes, [&](int s) { return s > max_num_batched_tokens; });
  } else {
    plan.sizes = default_sizes(max_size);
  }
  const int valid_max = plan.max_size();
  if (options.max_capture_size > 0 && !options.capture_sizes.empty() && options.max_capture_size != valid_max) {
    return invalid_argument("customized max_cudagraph_capture_size (=" + std::to_string(options.max_capture_size) +
                            ") should be consistent with the max value of cudagraph_capture_sizes (=" +
                            std::to_string(valid_max) + ")");
  }
  return plan;
}

std::string format_size_list(const std::vector<int>& sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(sizes[i]);
  }
  return out + "]";
}

}  // namespace podserve
