#include "support/capture_engine.h"

#include <algorithm>

#include "engine/validate.h"
#include "tokenizer/tokenizer.h"

namespace podserve::fuzz {
namespace {

/// Logprobs of `token` with the `n` alternatives the sampler would list (ids 0..n-1, made-up values).
TokenLogprobs logprobs_of(int32_t token, int n, int vocab) {
  TokenLogprobs lp{token, -0.5f, 2, {}};
  for (int i = 0; i < std::min(n, vocab); ++i) lp.top.emplace_back(i, -0.25f - static_cast<float>(i));
  return lp;
}

}  // namespace

Status CaptureEngine::submit(GenerationRequest request, OutputCallback on_output) {
  PODSERVE_RETURN_IF_ERROR(validate_request(request, max_model_len_, tokenizer_.vocab_size()));
  const SamplingParams& p = request.params;
  const int vocab = tokenizer_.vocab_size();
  const int32_t token = request.prompt_tokens.back();  // what the "model" generates: the prompt's last token
  for (int k = 0; k < p.n; ++k) {
    GenerationOutput out;
    out.index = k;
    out.token_ids = {token};
    out.text_delta = tokenizer_.decode(out.token_ids, p.skip_special_tokens);
    if (p.logprobs) out.logprobs = {logprobs_of(token, *p.logprobs, vocab)};
    if (p.prompt_logprobs) {
      for (size_t i = 1; i < request.prompt_tokens.size(); ++i) {
        out.prompt_logprobs.push_back(logprobs_of(request.prompt_tokens[i], *p.prompt_logprobs, vocab));
      }
    }
    out.prompt_tokens = static_cast<int>(request.prompt_tokens.size());
    out.completion_tokens = 1;
    out.finished = true;
    out.finish_reason = p.max_tokens == 1 ? FinishReason::kLength : FinishReason::kStop;
    on_output(std::move(out));
  }
  return ok_status();
}

}  // namespace podserve::fuzz
