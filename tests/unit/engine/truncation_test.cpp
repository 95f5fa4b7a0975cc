// Temperature, min_p, top-k and top-p on large vocabularies against brute force (full sorts in double), and
// the whole random chain against softmax(logits / T) restricted by min_p, top-k and top-p (chi-square).
#include "engine/sampling/truncation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "sampling_test_util.h"

namespace podserve {
namespace {

using sampling_test::draw_counts;
using sampling_test::expect_matches_distribution;
using sampling_test::random_logits;

constexpr int kVocab = 50000;

/// The kept ids, ascending.
std::vector<int32_t> ids_of(const Candidates& c) {
  std::vector<int32_t> ids;
  for (const Candidate& x : c.items()) ids.push_back(x.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<int32_t> sorted(std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// Ids sorted by (logit desc, id asc).
std::vector<int32_t> by_logit(const std::vector<float>& x) {
  std::vector<int32_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
  return order;
}

/// Logits rounded to a coarse grid, so many tokens tie.
std::vector<float> tied_logits(int n, uint32_t seed) {
  std::vector<float> x = random_logits(n, seed);
  for (auto& v : x) v = std::round(v * 2.0f) / 2.0f;
  return x;
}

TEST(Candidates, GatherScalesByTemperatureAndDropsMaskedTokens) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0f, -kInf, 3.0f, std::numeric_limits<float>::quiet_NaN(), -2.0f};
  Candidates c;
  c.gather(logits, 0.7f, 0.0f);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 2, 4}));
  for (const Candidate& x : c.items()) EXPECT_EQ(x.logit, logits[x.id] / 0.7f);
  // Weights are exp(scaled - max scaled).
  EXPECT_NEAR(c.total_weight(), 1.0 + std::exp(-2.0 / 0.7) + std::exp(-5.0 / 0.7), 1e-6);
}

// vLLM MinPLogitsProcessor: p = softmax(logits / T); tokens with p < min_p * max(p) are dropped.
TEST(Candidates, MinPMatchesBruteForce) {
  const std::vector<float> logits = random_logits(kVocab, 21);
  for (float temperature : {0.5f, 1.0f, 1.7f}) {
    for (float min_p : {0.001f, 0.05f, 0.3f, 1.0f}) {
      SCOPED_TRACE(::testing::Message() << "T=" << temperature << " min_p=" << min_p);
      Candidates c;
      c.gather(logits, temperature, min_p);
      const std::vector<int32_t> ids = ids_of(c);
      const std::set<int32_t> got(ids.begin(), ids.end());
      const double max = *std::max_element(logits.begin(), logits.end()) / static_cast<double>(temperature);
      size_t want = 0;
      for (int i = 0; i < kVocab; ++i) {
        const double ratio = std::exp(logits[i] / static_cast<double>(temperature) - max);  // p_i / p_max
        if (std::fabs(ratio - min_p) < 1e-5 * min_p) continue;  // too close to call in float
        const bool keep = ratio >= min_p;
        want += keep;
        EXPECT_EQ(got.count(i), keep ? 1u : 0u) << "token " << i << " ratio " << ratio;
      }
      EXPECT_GE(got.size(), 1u);
      EXPECT_NEAR(static_cast<double>(got.size()), static_cast<double>(want), 2.0);
    }
  }
}

// vLLM top-k on the scaled logits: `logits < kth_largest -> -inf`, so every token tied with the k-th stays.
// Small k take the heap path, large ones the selection path.
TEST(Candidates, TopKKeepsEverythingAtOrAboveTheKthLogit) {
  for (const auto& logits : {random_logits(kVocab, 22), tied_logits(kVocab, 23)}) {
    for (float temperature : {1.0f, 0.7f}) {
      std::vector<float> scaled(logits.size());
      for (size_t i = 0; i < logits.size(); ++i) scaled[i] = logits[i] / temperature;
      const std::vector<int32_t> order = by_logit(scaled);
      for (int k : {1, 2, 7, 50, 1000, 20000, kVocab - 1, kVocab, kVocab + 5, 0, -1}) {
        SCOPED_TRACE(::testing::Message() << "T=" << temperature << " k=" << k);
        Candidates c;
        c.gather(logits, temperature, 0.0f, k);
        std::vector<int32_t> want;
        const float kth = k <= 0 || k >= kVocab ? -INFINITY : scaled[order[k - 1]];
        for (int i = 0; i < kVocab; ++i) {
          if (scaled[i] >= kth) want.push_back(i);
        }
        EXPECT_EQ(ids_of(c), want);
      }
    }
  }
}

// min_p and top-k are both lower bounds on the logit: together they keep the intersection, and k counts
// only tokens that are not masked.
TEST(Candidates, MinPAndTopKIntersectAndSkipMaskedTokens) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits = {0.0f, nan, -0.5f, -kInf, -1.0f, -3.0f, nan, -0.2f};
  Candidates c;
  c.gather(logits, 1.0f, 0.0f, 3);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 2, 7}));
  c.gather(logits, 1.0f, 0.0f, 6);  // only 5 tokens are real
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 2, 4, 5, 7}));
  c.gather(logits, 1.0f, 0.5f, 4);  // min_p: e^-1 < 0.5 < e^-0.5, so it cuts below top-k's 4
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 2, 7}));
  c.gather(logits, 1.0f, 0.3f, 2);  // here top-k is the tighter
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 7}));
}

/// Sorts ids by (logit desc, id asc), the order top-p fills its set in.
std::vector<int32_t> by_logit_then_id(const std::vector<float>& scaled, std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return scaled[a] > scaled[b] || (scaled[a] == scaled[b] && a < b);
  });
  return ids;
}

/// Brute-force top-p over `ordered` (by_logit_then_id): the shortest prefix whose probability mass reaches
/// top_p, probabilities being the softmax of the (already scaled) logits over `ordered`, in double.
std::vector<int32_t> brute_top_p(const std::vector<float>& scaled, const std::vector<int32_t>& ordered,
                                 double top_p) {
  const double max = scaled[ordered[0]];
  double total = 0.0;
  for (int32_t id : ordered) total += std::exp(scaled[id] - max);
  double cumulative = 0.0;
  size_t n = 0;
  while (n < ordered.size() && cumulative < top_p) cumulative += std::exp(scaled[ordered[n++]] - max) / total;
  return sorted(std::vector<int32_t>(ordered.begin(), ordered.begin() + n));
}

TEST(Candidates, TopPMatchesBruteForce) {
  int checked = 0;
  for (const auto& logits : {random_logits(kVocab, 24), random_logits(kVocab, 25, 0.5f), tied_logits(kVocab, 26)}) {
    for (float temperature : {0.6f, 1.0f, 2.5f}) {
      std::vector<float> scaled(logits.size());
      for (size_t i = 0; i < logits.size(); ++i) scaled[i] = logits[i] / temperature;
      std::vector<int32_t> all(logits.size());
      std::iota(all.begin(), all.end(), 0);
      const std::vector<int32_t> ordered = by_logit_then_id(scaled, all);
      for (float top_p : {0.01f, 0.3f, 0.9f, 0.95f, 0.999f}) {
        SCOPED_TRACE(::testing::Message() << "T=" << temperature << " top_p=" << top_p);
        Candidates c;
        c.gather(logits, temperature, 0.0f);
        c.top_p(top_p);
        EXPECT_EQ(ids_of(c), brute_top_p(scaled, ordered, top_p));
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 45);
}

TEST(Candidates, TopPAfterTopKRenormalizesOverTheTopK) {
  const std::vector<float> logits = random_logits(kVocab, 27, 1.0f);
  const std::vector<int32_t> order = by_logit(logits);
  const std::vector<int32_t> top(order.begin(), order.begin() + 40);
  for (float top_p : {0.2f, 0.6f, 0.9f}) {
    Candidates c;
    c.gather(logits, 1.0f, 0.0f, 40);
    c.top_p(top_p);
    EXPECT_EQ(ids_of(c), brute_top_p(logits, by_logit_then_id(logits, top), top_p)) << top_p;
  }
}

TEST(Candidates, DrawNeverLeavesTheKeptSet) {
  const std::vector<float> logits = random_logits(kVocab, 28, 1.0f);
  Candidates c;
  c.gather(logits, 1.0f, 0.0f);
  c.top_p(0.5f);
  const std::vector<int32_t> kept = ids_of(c);
  Rng rng(29);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(std::binary_search(kept.begin(), kept.end(), c.draw(rng)));
}

// The whole random chain on a small vocabulary against probabilities built here stage by stage:
// p = softmax(l / T); min_p keeps p_i >= min_p * max p; top-k keeps the k largest of those; top-p keeps the
// shortest most-probable prefix of the renormalized rest reaching top_p. min_p and top-k both keep an upper
// set of the logit order, so only the tighter of the two can show in one run: each gets a run of its own.
// top_p = 0.905 is where the renormalization shows: without min_p's cut (A) the cut would keep 7 tokens,
// over min_p's 9 without top-k's cut (B) 6.
TEST(Sampler, ChainMatchesRestrictedSoftmax) {
  const double sorted_logits[] = {2.0, 1.6, 1.5, 1.2, 0.9, 0.7, 0.4, 0.1, -0.3, -0.8, -1.6, -2.5};
  const int ids[] = {7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 4, 6};  // shuffled, so no stage sees a plain prefix
  std::vector<float> logits(12);
  for (int i = 0; i < 12; ++i) logits[ids[i]] = static_cast<float>(sorted_logits[i]);
  std::vector<double> scaled(12);
  for (int i = 0; i < 12; ++i) scaled[i] = logits[i] / 0.8;
  const double max = *std::max_element(scaled.begin(), scaled.end());

  struct Case {
    int top_k;
    size_t after_min_p, after_top_k, after_top_p;  // sizes, so each stage is seen to cut
  };
  for (const Case& c : {Case{11, 9, 9, 6}, Case{6, 9, 6, 5}}) {
    SCOPED_TRACE(::testing::Message() << "top_k=" << c.top_k);
    SamplingParams p;
    p.temperature = 0.8f;
    p.min_p = 0.05f;
    p.top_k = c.top_k;
    p.top_p = 0.905f;
    std::vector<int32_t> kept;  // in logit order
    for (int i = 0; i < 12; ++i) {
      if (std::exp(scaled[ids[i]] - max) >= 0.05) kept.push_back(ids[i]);
    }
    ASSERT_EQ(kept.size(), c.after_min_p);
    kept.resize(std::min<size_t>(kept.size(), static_cast<size_t>(c.top_k)));
    ASSERT_EQ(kept.size(), c.after_top_k);
    double total = 0.0;
    for (int32_t id : kept) total += std::exp(scaled[id] - max);
    double cumulative = 0.0;
    size_t n = 0;
    while (cumulative < 0.905) cumulative += std::exp(scaled[kept[n++]] - max) / total;
    ASSERT_EQ(n, c.after_top_p);
    kept.resize(n);
    const auto want = sampling_test::softmax_over(scaled, std::vector<int>(kept.begin(), kept.end()));
    expect_matches_distribution(draw_counts(logits, p, 100000, 30 + c.top_k), want);
  }
}

}  // namespace
}  // namespace podserve
