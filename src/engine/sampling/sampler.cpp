#include "engine/sampling/sampler.h"

#include "base/check.h"

namespace podserve {

std::span<const float> Sampler::apply_stages(std::span<float> logits, const SamplingParams& params,
                                             const PenaltyState& state, int num_output_tokens,
                                             std::span<const int32_t> eos_and_stop_ids,
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
  return raw;
}

SampleResult Sampler::sample(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                             int num_output_tokens, std::span<const int32_t> eos_and_stop_ids, Rng& rng,
                             std::span<const uint32_t> allowed, std::span<const int32_t> output) {
  const std::span<const float> raw =
      apply_stages(logits, params, state, num_output_tokens, eos_and_stop_ids, allowed, output);
  SampleResult result;
  if (params.temperature < kGreedyEpsilon) {
    result.token = argmax(logits);
  } else {
    gather_candidates(logits, params);
    // Nothing finite left (every token masked, or NaN logits): fall back to the argmax, as greedy would.
    result.token = candidates_.empty() ? argmax(logits) : candidates_.draw(rng);
  }
  add_logprobs(raw, params, result);
  return result;
}

SampleResult Sampler::verify_draft(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                                   int num_output_tokens, std::span<const int32_t> eos_and_stop_ids, Rng& rng,
                                   int32_t draft, bool* accepted, std::span<const int32_t> output) {
  const std::span<const float> raw =
      apply_stages(logits, params, state, num_output_tokens, eos_and_stop_ids, {}, output);
  SampleResult result;
  if (params.temperature < kGreedyEpsilon) {
    // Greedy rows accept exactly while the draft is the argmax, so the output equals plain greedy decoding.
    result.token = argmax(logits);
    *accepted = result.token == draft;
  } else {
    gather_candidates(logits, params);
    // vLLM's rule with a one-hot draft distribution (q(draft) = 1): accept when p(draft) >= u, u ~ U[0, 1).
    const double p_draft = candidates_.probability(draft);
    const double u = rng.next_double();
    *accepted = p_draft >= u;
    if (*accepted) {
      result.token = draft;
    } else {
      // Rejected: draw from norm(max(p - q, 0)), which for a one-hot q is p without the draft.
      candidates_.remove(draft);
      result.token = candidates_.empty() ? argmax(logits) : candidates_.draw(rng);
    }
  }
  add_logprobs(raw, params, result);
  return result;
}

void Sampler::gather_candidates(std::span<const float> logits, const SamplingParams& params) {
  candidates_.gather(logits, params.temperature, params.min_p, params.top_k);
  candidates_.top_p(params.top_p);
}

void Sampler::add_logprobs(std::span<const float> raw, const SamplingParams& params, SampleResult& result) const {
  if (params.logprobs.has_value() || params.best_of > params.n) {
    result.logprobs = compute_logprobs(raw, result.token, params.logprobs.value_or(0));
  }
}

}  // namespace podserve
