// Verification of a sequence's draft tokens against the target's logits, as vLLM's rejection sampler
// (vllm/v1/sample/rejection_sampler.py; Leviathan et al., arXiv 2211.17192) with one-hot draft probabilities
// (n-gram drafts and greedy draft-model drafts): position by position, each draft is accepted or replaced by
// the recovered token, which ends the step; when all are accepted the bonus position adds one more token.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/sampler.h"

namespace podserve {

struct DraftVerification {
  std::vector<SampleResult> accepted;  // the accepted drafts, in order
  SampleResult next;                   // the token after them: recovered (a draft was rejected) or bonus
};

/// Reused between calls: the penalty state and output extended by the drafts accepted so far.
struct VerifyScratch {
  PenaltyState penalties;
  std::vector<int32_t> output;
};

/// `rows` holds draft.size() + 1 rows of `vocab` target logits (row i: the distribution of the token after
/// draft i - 1; modified in place). Position i runs the sampler's usual stages as if drafts 0..i-1 had been
/// sampled (penalties, bad_words and min_tokens see them). `output` is the sequence's output so far, `penalties`
/// its penalty state.
void verify_draft_tokens(Sampler& sampler, std::span<float> rows, size_t vocab, std::span<const int32_t> draft,
                         const SamplingParams& params, const PenaltyState& penalties, std::span<const int32_t> output,
                         std::span<const int32_t> eos_and_stop_ids, Rng& rng, VerifyScratch& scratch,
                         DraftVerification& out);

}  // namespace podserve
