// One request's generation: prefill, then sample/decode until a stop condition, streaming outputs.
#pragma once

#include <functional>
#include <vector>

#include "base/rng.h"
#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/stop_checker.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

class CausalLm;
class KvCache;

/// Checks a request against the context (vLLM's messages) and the vocabulary before it is queued.
Status validate_request(const GenerationRequest& request, int max_model_len, int vocab_size);

class Generation {
 public:
  Generation(CausalLm& lm, const Tokenizer& tokenizer, KvCache& cache, GenerationRequest request,
             OutputCallback on_output);
  /// Runs to completion; `is_aborted` is polled between forward passes.
  void run(Rng& rng, Sampler& sampler, const std::function<bool()>& is_aborted);

 private:
  /// Sends the final output: `out` (the last token's update, if any) plus the remaining held-back text.
  void finish(FinishReason reason, std::variant<std::monostate, std::string, int32_t> stop_reason, Status error = {},
              GenerationOutput out = {});
  /// Decides whether `token` ends generation; returns kNone if not.
  FinishReason check_stop_token(int32_t token, std::variant<std::monostate, std::string, int32_t>* stop_reason) const;

  CausalLm& lm_;
  const Tokenizer& tokenizer_;
  KvCache& cache_;
  GenerationRequest request_;
  OutputCallback on_output_;
  IncrementalDetokenizer detokenizer_;
  StopChecker stop_checker_;
  std::vector<int32_t> output_tokens_;
  std::vector<float> logits_;
};

}  // namespace podserve
