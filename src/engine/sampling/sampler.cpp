#include "engine/sampling/sampler.h"

#include "base/check.h"

namespace podserve {

SampleResult Sampler::sample(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                             int num_output_tokens, std::span<const int32_t> eos_and_stop_ids, Rng& rng,
                             std::span<const uint32_t> allowed, std::span<const int32_t> output) {
  PODSERVE_CHECK(!logits.empty());
  if (!allowed.empty()) apply_token_bitmask(logits, allowed);
  const bool want_logprobs = params.logprobs.has_value() || params.best_of > params.n;
  const bool mask_stops = num_output_tokens < params.min_tokens && !eos_and_stop_ids.empty();
  const bool penalize = has_penalties(params);
  const bool masks = !params.allowed_token_ids.empty() || !params.bad_words_token_ids.empty();
  const bool mutates = masks || mask_stops || !params.logit_bias.empty() || penalize;

  // Logprobs are of the raw logits; the stages below only read `logits` past (3), so a copy is needed only
  // when (0)-(3) will write to it.
  std::span<const float> raw = logits;
  if (want_logprobs && mutates) {
    raw_.assign(logits.begin(), logits.end());
    raw = raw_;
  }

  if (!params.allowed_token_ids.empty()) apply_allowed_token_ids(logits, params.allowed_token_ids, allowed_logits_);
  if (!params.bad_words_token_ids.empty()) apply_bad_words(logits, params.bad_words_token_ids, output);
  if (mask_stops) apply_min_tokens(logits, num_output_tokens, params.min_tokens, eos_and_stop_ids);
  if (!params.logit_bias.empty()) apply_logit_bias(logits, params.logit_bias);
  if (penalize) {
    apply_penalties(logits, state, params.repetition_penalty, params.frequency_penalty, params.presence_penalty);
  }

  SampleResult result;
  if (params.temperature < kGreedyEpsilon) {
    result.token = argmax(logits);
  } else {
    candidates_.gather(logits, params.temperature, params.min_p, params.top_k);
    candidates_.top_p(params.top_p);
    // Nothing finite left (every token masked, or NaN logits): fall back to the argmax, as greedy would.
    result.token = candidates_.empty() ? argmax(logits) : candidates_.draw(rng);
  }
  if (want_logprobs) result.logprobs = compute_logprobs(raw, result.token, params.logprobs.value_or(0));
  return result;
}

}  // namespace podserve
