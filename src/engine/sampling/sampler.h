// Token selection for one sequence with vLLM V1's semantics, as a chain of small stages:
//   (0) the structured-output mask (vLLM applies its grammar bitmask to the logits before the sampler, so the
//       logprobs below are those of the masked logits, as vLLM's), then allowed_token_ids and bad_words (in
//       vLLM's sampler: after the logprobs' copy)
//   (1) min_tokens masking  (2) logit_bias  (3) repetition / frequency / presence penalties
//   (4) greedy argmax if temperature < 1e-5, else divide by temperature  (5) min_p  (6) top-k, then top-p
//   (7) draw with the sequence's own Rng, so a seed gives the same tokens whatever else the engine runs.
// Stages (1)-(3) are in logits_processors.h, (4)-(7) in truncation.h; logprobs (from the raw logits) in
// logprobs.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/rng.h"
#include "engine/request.h"
#include "engine/sampling/logits_processors.h"
#include "engine/sampling/logprobs.h"
#include "engine/sampling/truncation.h"

namespace podserve {

/// Temperatures below this are greedy (vLLM's _SAMPLING_EPS).
inline constexpr float kGreedyEpsilon = 1e-5f;

struct SampleResult {
  int32_t token = 0;
  /// From the raw logits; present when params.logprobs is set (top = that many alternatives) or when
  /// best_of > n (top empty: only the token's logprob, for ranking the candidates by cumulative logprob).
  std::optional<TokenLogprobs> logprobs;
};

/// Reusable scratch for sampling; one per engine thread, shared by all sequences (it holds no per-request
/// state, that lives in the Rng and PenaltyState).
class Sampler {
 public:
  /// Picks the next token. `logits` [vocab] is the raw model output and is modified in place (scratch).
  /// `num_output_tokens` counts the sequence's generated tokens so far (for min_tokens);
  /// `eos_and_stop_ids` are the ids min_tokens masks (EOS unless ignore_eos, plus stop_token_ids).
  /// Greedy requests draw nothing from `rng`; others draw exactly one number. `allowed`, when not empty, is a
  /// token bitmask (bit i % 32 of word i / 32: token i may be sampled); the others get -inf first. `output` (the
  /// generated tokens) is read by bad_words only.
  SampleResult sample(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                      int num_output_tokens, std::span<const int32_t> eos_and_stop_ids, Rng& rng,
                      std::span<const uint32_t> allowed = {}, std::span<const int32_t> output = {});

  /// Speculative decoding, one draft position: the same stages (1)-(6) on this position's target logits, then
  /// vLLM's rejection sampler for a one-hot draft distribution (n-gram and greedy draft-model drafts): greedy
  /// rows accept while `draft` is the argmax (the token is then the argmax either way); random rows accept when
  /// p(draft) >= u (one number from `rng`) and otherwise draw the recovered token from p without the draft
  /// (another number). `*accepted` says which; the result's token is the draft when accepted.
  SampleResult verify_draft(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                            int num_output_tokens, std::span<const int32_t> eos_and_stop_ids, Rng& rng,
                            int32_t draft, bool* accepted, std::span<const int32_t> output = {});

 private:
  /// Stages (0)-(3) in place; returns the raw logits for logprobs (a copy when the stages wrote to `logits`).
  std::span<const float> apply_stages(std::span<float> logits, const SamplingParams& params, const PenaltyState& state,
                                      int num_output_tokens, std::span<const int32_t> eos_and_stop_ids,
                                      std::span<const uint32_t> allowed, std::span<const int32_t> output);
  void add_logprobs(std::span<const float> raw, const SamplingParams& params, SampleResult& result) const;
  /// Stages (4)-(6) of a random row: temperature, min_p, top-k, top-p into candidates_.
  void gather_candidates(std::span<const float> logits, const SamplingParams& params);

  Candidates candidates_;
  std::vector<float> raw_;  // copy of the raw logits, kept only when logprobs are wanted and stages mutate
  std::vector<float> allowed_logits_;  // allowed_token_ids' logits while the row is cleared
};

}  // namespace podserve
