// Token selection from logits: greedy, or temperature -> top-k -> top-p -> draw with the request's own RNG
// (so the same seed and request give the same tokens whatever else the engine is doing).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/rng.h"
#include "engine/request.h"

namespace podserve {

/// Temperatures below this are treated as greedy (as vLLM does).
inline constexpr float kGreedyEpsilon = 1e-5f;

class Sampler {
 public:
  /// Picks a token id. `logits` ([vocab]) may be modified (scratch).
  int32_t sample(std::span<float> logits, const SamplingParams& params, Rng& rng);

 private:
  struct Candidate {
    float logit;
    int32_t id;
  };
  std::vector<Candidate> candidates_;  // reused scratch
  std::vector<double> probs_;
};

}  // namespace podserve
