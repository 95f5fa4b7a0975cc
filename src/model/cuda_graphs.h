// Which decode batch sizes get a CUDA graph, chosen as vLLM chooses its cudagraph_capture_sizes (gpu.md §2), and
// the graph a batch runs as. Pure host logic: the CUDA backend captures `sizes` (largest first, into one pool)
// and pads each decode batch to padded_size() (padded rows: slot -1, seq_len 0).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/device_options.h"

namespace podserve {

struct CudaGraphPlan {
  std::vector<int> sizes;   // ascending, distinct; empty: every step runs eagerly
  int max_seq_len = 0;      // MAX_SEQ_LEN_TO_CAPTURE; 0 = no limit

  int max_size() const { return sizes.empty() ? 0 : sizes.back(); }
  /// The captured size a decode step of `num_tokens` tokens runs as: the smallest size >= num_tokens. 0 means
  /// eager: no graphs, num_tokens < 1 or above the largest size, or `longest_seq_len` (the longest context in
  /// the batch) above max_seq_len.
  int padded_size(int num_tokens, int longest_seq_len = 0) const;
};

/// vLLM's rule: with ENFORCE_EAGER no graphs. Otherwise the largest size is max_capture_size, by default
/// min(2 * max_num_seqs, 512), and never more than max_num_batched_tokens; the sizes are the given list (sorted,
/// duplicates dropped, those above max_num_batched_tokens dropped) or else
/// [1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16) up to that largest size. A given list and a given
/// max_capture_size must agree (vLLM's error); a given max alone is lowered to the largest size it allows.
Result<CudaGraphPlan> plan_cuda_graphs(const CudaGraphOptions& options, int max_num_seqs, int max_num_batched_tokens);

/// "[1, 2, 4, 8]": a size list as vLLM's logs print Python lists.
std::string format_size_list(const std::vector<int>& sizes);

}  // namespace podserve
