#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace podserve {

int32_t Sampler::sample(std::span<float> logits, const SamplingParams& params, Rng& rng) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (params.temperature < kGreedyEpsilon) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  candidates_.resize(vocab);
  for (int32_t i = 0; i < vocab; ++i) candidates_[i] = {logits[i] / params.temperature, i};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  // top-k: keep the k largest (ties broken by id, so results do not depend on sort stability).
  int32_t keep = vocab;
  if (params.top_k > 0 && params.top_k < vocab) {
    keep = params.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax over the kept candidates (sorted, so candidates_[0] holds the max).
  probs_.resize(keep);
  double total = 0.0;
  for (int32_t i = 0; i < keep; ++i) {
    probs_[i] = std::exp(static_cast<double>(candidates_[i].logit - candidates_[0].logit));
    total += probs_[i];
  }
  // top-p: the smallest prefix whose mass reaches top_p (always at least one token).
  if (params.top_p < 1.0f) {
    double cumulative = 0.0;
    int32_t cut = keep;
    for (int32_t i = 0; i < keep; ++i) {
      cumulative += probs_[i] / total;
      if (cumulative >= params.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0.0;
    for (int32_t i = 0; i < keep; ++i) total += probs_[i];
  }
  const double r = rng.next_double() * total;
  double acc = 0.0;
  for (int32_t i = 0; i < keep; ++i) {
    acc += probs_[i];
    if (r < acc) return candidates_[i].id;
  }
  return candidates_[keep - 1].id;
}

}  // namespace podserve
