// Sampler: greedy, top-k / top-p truncation and the distribution of draws (chi-square against softmax).
#include "engine/sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <span>
#include <vector>

namespace podserve {
namespace {

SamplingParams params(float temperature, int top_k = 0, float top_p = 1.0f) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

std::vector<float> random_logits(int n, uint32_t seed, float sigma = 3.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The cases below predate penalties and min_tokens: no history, nothing to mask.
int32_t sample_token(Sampler& sampler, std::span<float> logits, const SamplingParams& p, Rng& rng) {
  return sampler.sample(logits, p, PenaltyState{}, 0, {}, rng).token;
}

std::vector<int64_t> draw_counts(const std::vector<float>& logits, const SamplingParams& p, int draws, uint64_t seed) {
  Sampler sampler;
  Rng rng(seed);
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<float> scratch;
  for (int i = 0; i < draws; ++i) {
    scratch = logits;  // sample() may modify its input
    const int32_t t = sample_token(sampler, scratch, p, rng);
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<int32_t>(logits.size()));
    ++counts[t];
  }
  return counts;
}

// softmax(logits / temperature) restricted to `keep` (ids), renormalized; 0 elsewhere.
std::vector<double> expected_probs(const std::vector<float>& logits, float temperature, const std::vector<int>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double total = 0.0;
  for (int id : keep) total += p[id] = std::exp(static_cast<double>(logits[id]) / temperature);
  for (auto& x : p) x /= total;
  return p;
}

// Empirical frequencies must fit `probs`: every count within 4 sigma of its binomial mean, and Pearson's
// chi-square statistic below its 1e-6 upper quantile (a correct sampler fails either ~1e-5 of the time;
// the RNG is seeded, so the outcome is deterministic anyway).
void expect_matches_distribution(const std::vector<int64_t>& counts, const std::vector<double>& probs) {
  const double n = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  static const double kChi2Quantile[] = {0, 23.93, 27.63, 30.66, 33.38, 35.89};  // by degrees of freedom
  double chi2 = 0.0;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " should never be drawn";
      continue;
    }
    const double mean = n * probs[i], sigma = std::sqrt(n * probs[i] * (1.0 - probs[i]));
    EXPECT_LE(std::fabs(static_cast<double>(counts[i]) - mean), 4.0 * sigma + 1e-9) << "token " << i;
    chi2 += (counts[i] - mean) * (counts[i] - mean) / mean;
    ++cells;
  }
  ASSERT_GE(cells, 1);
  ASSERT_LE(cells - 1, 5);
  if (cells > 1) {
    EXPECT_LT(chi2, kChi2Quantile[cells - 1]) << cells - 1 << " degrees of freedom";
  }
}

const std::vector<float> kSmall = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -3.0f};  // ids already in logit order

TEST(Sampler, TemperatureZeroIsArgmax) {
  Sampler sampler;
  Rng rng(1);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits = random_logits(1000, seed);
    const int32_t want = argmax(logits);
    for (float t : {0.0f, 1e-6f}) EXPECT_EQ(sample_token(sampler, logits, params(t), rng), want) << "temperature " << t;
  }
}

TEST(Sampler, TopKOneIsArgmaxAtAnyTemperature) {
  Sampler sampler;
  Rng rng(2);
  const std::vector<float> logits = random_logits(500, 7);
  for (float t : {0.1f, 1.0f, 5.0f, 100.0f}) {
    for (int i = 0; i < 200; ++i) {
      std::vector<float> scratch = logits;
      ASSERT_EQ(sample_token(sampler, scratch, params(t, 1), rng), argmax(logits)) << "temperature " << t;
    }
  }
}

TEST(Sampler, TinyTopPKeepsOnlyTheTopToken) {
  // The top token holds only ~56% of the mass, so only the top-p cut can explain always drawing it.
  const auto counts = draw_counts(kSmall, params(1.0f, 0, 0.01f), 5000, 3);
  EXPECT_EQ(counts[0], 5000);
}

TEST(Sampler, SameSeedSameSequence) {
  const std::vector<float> logits = random_logits(100, 9, 1.0f);
  auto sequence = [&](uint64_t seed) {
    Sampler sampler;
    Rng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 500; ++i) {
      std::vector<float> scratch = logits;
      out.push_back(sample_token(sampler, scratch, params(0.8f, 40, 0.95f), rng));
    }
    return out;
  };
  EXPECT_EQ(sequence(1234), sequence(1234));
  EXPECT_NE(sequence(1234), sequence(1235));
}

TEST(Sampler, TemperatureOneMatchesSoftmax) {
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  expect_matches_distribution(draw_counts(kSmall, params(1.0f), 200000, 4), expected_probs(kSmall, 1.0f, all));
}

TEST(Sampler, TemperatureScalesLogits) {
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  for (float t : {0.5f, 2.0f}) {
    SCOPED_TRACE(t);
    expect_matches_distribution(draw_counts(kSmall, params(t), 100000, 5), expected_probs(kSmall, t, all));
  }
}

TEST(Sampler, TopKRenormalizesOverTheKept) {
  // Shuffled ids, so the kept set is not simply a prefix of the vector.
  const std::vector<float> logits = {0.5f, -3.0f, 2.0f, 0.0f, 1.0f, -1.0f};
  expect_matches_distribution(draw_counts(logits, params(1.0f, 3), 100000, 6), expected_probs(logits, 1.0f, {2, 4, 0}));
  // top_k >= vocab or <= 0 means no truncation.
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  for (int k : {6, 100, -1}) {
    expect_matches_distribution(draw_counts(logits, params(1.0f, k), 50000, 7), expected_probs(logits, 1.0f, all));
  }
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
  const std::vector<float> logits = random_logits(1000, 11);
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  for (int k : {2, 5, 50}) {
    const std::set<int32_t> top(order.begin(), order.begin() + k);
    const auto counts = draw_counts(logits, params(20.0f, k), 5000, 12);  // hot: spread over all k
    int distinct = 0;
    for (size_t id = 0; id < counts.size(); ++id) {
      if (counts[id] == 0) continue;
      ++distinct;
      EXPECT_TRUE(top.count(static_cast<int32_t>(id))) << "k=" << k << " drew token " << id;
    }
    EXPECT_EQ(distinct, k) << "at temperature 20 every one of the top k should appear";
  }
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // Probabilities 0.4, 0.3, 0.2, 0.1 (cumulative 0.4, 0.7, 0.9, 1.0); p values avoid the exact boundaries.
  const std::vector<float> logits = {std::log(0.2f), std::log(0.4f), std::log(0.1f), std::log(0.3f)};
  const std::pair<float, std::vector<int>> cases[] = {
      {0.35f, {1}}, {0.65f, {1, 3}}, {0.75f, {1, 3, 0}}, {0.95f, {1, 3, 0, 2}}};
  for (const auto& [top_p, keep] : cases) {
    SCOPED_TRACE(::testing::Message() << "top_p=" << top_p);
    expect_matches_distribution(draw_counts(logits, params(1.0f, 0, top_p), 50000, 13),
                                expected_probs(logits, 1.0f, keep));
  }
  // Combined with top-k: top-k first (keeps 0.4, 0.3, 0.2 -> renormalized 4/9, 3/9, 2/9), then top-p 0.7
  // keeps the smallest prefix reaching 0.7 of that: 4/9 + 3/9 = 0.78.
  expect_matches_distribution(draw_counts(logits, params(1.0f, 3, 0.7f), 50000, 14),
                              expected_probs(logits, 1.0f, {1, 3}));
}

}  // namespace
}  // namespace podserve
