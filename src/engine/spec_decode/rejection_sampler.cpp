#include "engine/spec_decode/rejection_sampler.h"

namespace podserve {

void verify_draft_tokens(Sampler& sampler, std::span<float> rows, size_t vocab, std::span<const int32_t> draft,
                         const SamplingParams& params, const PenaltyState& penalties, std::span<const int32_t> output,
                         std::span<const int32_t> eos_and_stop_ids, Rng& rng, VerifyScratch& scratch,
                         DraftVerification& out) {
  // Copies only for the stages that read them: most requests have neither penalties nor bad words (the sampler
  // reads the output for bad_words only).
  const bool penalize = has_penalties(params);
  const bool bad_words = !params.bad_words_token_ids.empty();
  if (penalize) scratch.penalties = penalties;
  if (bad_words) scratch.output.assign(output.begin(), output.end());
  const PenaltyState& state = penalize ? scratch.penalties : penalties;
  const int num_output = static_cast<int>(output.size());
  out.accepted.clear();
  for (size_t i = 0; i <= draft.size(); ++i) {
    std::span<float> row = rows.subspan(i * vocab, vocab);
    const int n = num_output + static_cast<int>(i);
    const std::span<const int32_t> seen = bad_words ? std::span<const int32_t>(scratch.output) : std::span<const int32_t>();
    if (i == draft.size()) {  // every draft accepted: the bonus token, sampled from the target as usual
      out.next = sampler.sample(row, params, state, n, eos_and_stop_ids, rng, {}, seen);
      return;
    }
    bool accepted = false;
    SampleResult r = sampler.verify_draft(row, params, state, n, eos_and_stop_ids, rng, draft[i], &accepted, seen);
    if (!accepted) {
      out.next = std::move(r);
      return;
    }
    if (penalize) scratch.penalties.accept(r.token);
    if (bad_words) scratch.output.push_back(r.token);
    out.accepted.push_back(std::move(r));
  }
}

}  // namespace podserve
