// The measurements behind `podserve bench`: llama-bench's pp/tg run straight on the model (no engine, no
// sampling, as llama-bench excludes tokenization and sampling), and `vllm bench throughput`'s offline run
// through the engine (continuous batching, sampling included, as vLLM's LLM.generate).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace podserve {

class CausalLm;
class LoadedModel;

/// Called with a one-line progress message (the caller prints it to stderr).
using BenchProgress = std::function<void(const std::string&)>;

/// Random token ids of the model's vocabulary, away from its ends (where special tokens usually sit).
std::vector<int32_t> random_tokens(int vocab_size, int count, uint64_t seed);

/// Seconds per repetition of prompt processing: `n_prompt` random tokens from position 0, in forward passes of
/// at most `n_batch` tokens, logits of the last token only (llama-bench's pp). One untimed warm-up run first.
Result<std::vector<double>> time_prompt(CausalLm& lm, int n_prompt, int n_batch, int reps, uint64_t seed,
                                        const BenchProgress& progress);

/// Seconds per repetition of generation: `n_gen` forward passes of one random token at positions 0, 1, ...,
/// each with its logits (llama-bench's tg; the next token is random, not sampled). One untimed warm-up step.
Result<std::vector<double>> time_generation(CausalLm& lm, int n_gen, int reps, uint64_t seed,
                                            const BenchProgress& progress);

struct ThroughputOptions {
  int num_prompts = 256;
  int input_len = 128;
  int output_len = 128;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 0;  // 0 = the engine's default
  uint64_t seed = 0;
};

struct ThroughputResult {
  double elapsed_s = 0;
  int num_requests = 0;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
};

/// vLLM's offline throughput: every prompt (random ids, `input_len` each) is submitted at once to an engine that
/// owns `model`; each generates exactly `output_len` tokens (ignore_eos; temperature 1, vLLM's bench setting).
/// Time runs from the first submit to the last finished request.
Result<ThroughputResult> run_throughput(std::unique_ptr<LoadedModel> model, const ThroughputOptions& options,
                                        const BenchProgress& progress);

}  // namespace podserve
