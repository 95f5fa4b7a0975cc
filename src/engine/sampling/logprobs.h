// Log-probabilities for the `logprobs` and `prompt_logprobs` outputs. As vLLM's default logprobs mode
// ("raw_logprobs"), they come from the model's raw logits, before any penalty, bias or temperature.
#pragma once

#include <cstdint>
#include <span>

#include "engine/request.h"

namespace podserve {

/// log_softmax(logits) at `token`, its rank (the number of tokens, itself included, whose logit is >= its
/// own, as vLLM counts it) and the top_n most probable tokens, highest first, lower id first on ties. top_n is
/// clamped to the vocabulary; a negative top_n means the whole vocabulary (vLLM's -1). O(vocab · log top_n).
TokenLogprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n);

}  // namespace podserve
