// The random-sampling stages after the logits processors, in vLLM V1's order: temperature -> min_p ->
// top-k -> top-p -> draw. They work on a shrinking candidate list rather than masking [vocab] logits with
// -inf: top-k costs a scan with a k-sized heap, top-p a bucketed pass that sorts only the boundary bucket.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/rng.h"

namespace podserve {

/// A token still in play: its temperature-scaled logit and weight exp(logit - max logit).
struct Candidate {
  float logit;
  float weight;
  int32_t id;
};

/// The candidate tokens of one sampling step. Stages only ever remove tokens; the one with the largest
/// logit always survives, so the weights stay relative to the same maximum throughout.
class Candidates {
 public:
  /// (4)-(6a) Temperature, min_p and top-k, all thresholds on the scaled logit, so one pass applies them:
  ///  - scaled logit = logit / temperature (temperature > 0);
  ///  - min_p keeps the tokens whose probability is at least min_p times the largest one (vLLM
  ///    MinPLogitsProcessor: `probs < min_p * max(probs)` -> -inf), i.e. scaled - max_scaled >= log(min_p);
  ///  - top-k keeps the tokens whose scaled logit is >= the k-th largest, so ties at the boundary all stay
  ///    (vLLM's `logits < kth_value` mask); k <= 0 or k >= vocab is off.
  /// Masked (-inf) and NaN logits are dropped. `logits` is only read.
  void gather(std::span<const float> logits, float temperature, float min_p = 0.0f, int top_k = 0);

  /// (6b) Top-p over the distribution renormalized on what is left: keeps the smallest set of most probable
  /// tokens whose probability mass reaches top_p (at least one token; lower id first among equal logits).
  /// top_p >= 1 is a no-op.
  void top_p(float top_p);

  /// (7) Draws a token with probability weight / total weight, consuming one number from `rng`.
  /// Requires !empty().
  int32_t draw(Rng& rng);

  /// The probability of `id` under the kept tokens (0 when it was cut).
  double probability(int32_t id) const;
  /// Drops `id` from the kept tokens (speculative decoding's recovered-token distribution), if present.
  void remove(int32_t id);

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  /// The kept tokens, in no particular order.
  std::span<const Candidate> items() const { return items_; }
  /// Sum of the kept tokens' weights (the softmax normalizer relative to the max).
  double total_weight() const { return total_; }

 private:
  double sum_weights() const;
  /// The k-th largest of `logits` (NaN skipped; -inf when fewer than k are not NaN).
  float kth_largest(std::span<const float> logits, int k);

  std::vector<Candidate> items_;
  float max_logit_ = 0.0f;
  double total_ = 0.0;
  std::vector<float> heap_;        // kth_largest scratch
  std::vector<double> bucket_mass_;  // top_p scratch
};

}  // namespace podserve
