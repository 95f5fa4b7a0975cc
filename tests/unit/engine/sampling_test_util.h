// Shared by the sampling tests: random logits, repeated draws and a goodness-of-fit check of the draws
// against probabilities the test computes on its own.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "engine/sampling/sampler.h"

namespace podserve::sampling_test {

inline std::vector<float> random_logits(int n, uint32_t seed, float sigma = 3.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

/// Counts per token over `draws` samples, each from a fresh copy of `logits` (sample() writes to it) with a
/// fresh history, so every draw comes from the same distribution.
inline std::vector<int64_t> draw_counts(const std::vector<float>& logits, const SamplingParams& p, int draws,
                                        uint64_t seed, const PenaltyState& state = PenaltyState{},
                                        int num_output_tokens = 0, std::vector<int32_t> stop_ids = {}) {
  Sampler sampler;
  Rng rng(seed);
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<float> scratch;
  for (int i = 0; i < draws; ++i) {
    scratch = logits;
    const int32_t t = sampler.sample(scratch, p, state, num_output_tokens, stop_ids, rng).token;
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<int32_t>(logits.size()));
    if (t >= 0 && t < static_cast<int32_t>(logits.size())) ++counts[t];
  }
  return counts;
}

/// softmax(x) over the ids in `keep` (double precision), 0 elsewhere.
inline std::vector<double> softmax_over(const std::vector<double>& x, const std::vector<int>& keep) {
  std::vector<double> p(x.size(), 0.0);
  double max = -INFINITY;
  for (int id : keep) max = std::max(max, x[id]);
  double total = 0.0;
  for (int id : keep) total += p[id] = std::exp(x[id] - max);
  for (auto& v : p) v /= total;
  return p;
}

/// Upper 1e-6 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty; z = 4.753).
inline double chi2_quantile_1e6(int df) {
  const double k = df, a = 2.0 / (9.0 * k);
  return k * std::pow(1.0 - a + 4.753 * std::sqrt(a), 3.0);
}

/// Empirical frequencies must fit `probs`: tokens with probability 0 never drawn, every count within 5 sigma
/// of its binomial mean, and Pearson's chi-square below its 1e-6 upper quantile. Draws are seeded, so the
/// outcome is deterministic; a correct sampler passes with overwhelming probability for any seed.
inline void expect_matches_distribution(const std::vector<int64_t>& counts, const std::vector<double>& probs) {
  ASSERT_EQ(counts.size(), probs.size());
  const double n = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  double chi2 = 0.0;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " should never be drawn";
      continue;
    }
    const double mean = n * probs[i], sigma = std::sqrt(n * probs[i] * (1.0 - probs[i]));
    EXPECT_LE(std::fabs(static_cast<double>(counts[i]) - mean), 5.0 * sigma + 1e-9) << "token " << i;
    chi2 += (counts[i] - mean) * (counts[i] - mean) / mean;
    ++cells;
  }
  ASSERT_GE(cells, 1);
  if (cells > 1) {
    EXPECT_LT(chi2, chi2_quantile_1e6(cells - 1)) << cells - 1 << " degrees of freedom";
  }
}

}  // namespace podserve::sampling_test
