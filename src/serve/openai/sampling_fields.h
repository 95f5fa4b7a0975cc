// The sampling fields both endpoints share (temperature ... logit_bias, n / best_of, logprobs, stop), read into
// SamplingParams with vLLM's ranges and messages, plus the checks that need the model (vocabulary size,
// --max-logprobs).
#pragma once

#include <optional>

#include "engine/request.h"
#include "serve/openai/errors.h"
#include "serve/openai/field_reader.h"
#include "serve/openai/protocol.h"

namespace podserve::openai {

/// temperature, top_p, top_k, min_p, the penalties, max_tokens / max_completion_tokens, min_tokens, seed, n,
/// best_of, logit_bias (biases clamped to [-100, 100]), stop, stop_token_ids, ignore_eos, skip_special_tokens,
/// include_stop_str_in_output.
MaybeError read_sampling(FieldReader& r, CommonRequest* c);

/// Chat: `logprobs` (bool) + `top_logprobs` (int, needs logprobs); completions: `logprobs` (int). Both:
/// `prompt_logprobs` (int). Negative counts are 400s; the upper bound is check_model_limits'.
MaybeError read_logprobs(FieldReader& r, bool chat, SamplingParams* s);

/// `logprobs` / `top_logprobs` / `prompt_logprobs` at most `max_logprobs` (--max-logprobs), logit_bias ids inside
/// the vocabulary. vLLM's messages; nullopt when all is well.
std::optional<ApiError> check_model_limits(const SamplingParams& sampling, bool chat, int vocab_size,
                                           int max_logprobs);

}  // namespace podserve::openai
