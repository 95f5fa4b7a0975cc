// The n-gram ("prompt lookup") proposer of vLLM's ngram_proposer.py: drafts are the tokens that followed an
// earlier occurrence of the context's suffix.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace podserve {

/// Finds the longest n-gram (min_n <= n <= max_n) that ends the context `tokens` and also occurs earlier in it
/// (the earliest such occurrence on ties) and writes up to k tokens that followed it into `draft`, clipped so
/// that the context plus the draft never passes `max_model_len` and to the tokens that exist after the match.
/// No match (or no room) leaves `draft` empty. O(tokens) time, O(max_n) space.
void propose_ngram(std::span<const int32_t> tokens, int min_n, int max_n, int max_model_len, int k,
                   std::vector<int32_t>& draft);

}  // namespace podserve
