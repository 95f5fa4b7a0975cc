// Speculative decoding's verification keeps the target distribution: the tokens it emits after a draft, drawn
// many times, fit probabilities the test computes itself from the logits (softmax with temperature and top-k),
// for the first position and for the second given the first draft was accepted. The same check rejects a
// deliberately wrong acceptance rule, so it can fail. Greedy rows accept exactly while the draft is the argmax.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "engine/spec_decode/rejection_sampler.h"
#include "sampling_test_util.h"

namespace podserve {
namespace {

using sampling_test::chi2_quantile_1e6;
using sampling_test::expect_matches_distribution;
using sampling_test::softmax_over;

constexpr int kVocab = 7;
constexpr float kTemperature = 0.8f;
constexpr int kTopK = 5;

// Rows for positions 0, 1 and the bonus position 2.
const std::vector<float> kRows[3] = {{1.0f, 2.2f, 0.3f, 1.9f, -1.0f, 2.0f, 0.5f},
                                     {0.2f, 1.1f, 1.5f, -0.5f, 1.4f, 0.9f, 1.2f},
                                     {2.0f, 0.0f, 0.5f, 1.0f, 1.5f, -2.0f, 0.1f}};
const std::vector<int32_t> kDraft = {3, 4};  // p0(3) and p1(4) are moderate: both outcomes are frequent

SamplingParams random_params() {
  SamplingParams p;
  p.temperature = kTemperature;
  p.top_k = kTopK;
  p.max_tokens = 16;
  return p;
}

/// The target distribution of a row: softmax(logits / T) over its top-k tokens, computed here independently.
std::vector<double> target_probs(const std::vector<float>& row) {
  std::vector<int> order(row.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
  order.resize(kTopK);
  std::vector<double> scaled(row.begin(), row.end());
  for (double& x : scaled) x /= kTemperature;
  return softmax_over(scaled, order);
}

using Verify = std::function<void(std::span<float> rows, Rng& rng, DraftVerification& out)>;

struct Histograms {
  std::vector<int64_t> first = std::vector<int64_t>(kVocab, 0);
  std::vector<int64_t> second = std::vector<int64_t>(kVocab, 0);  // given the first draft was accepted
};

Histograms run(const Verify& verify, int trials) {
  Histograms h;
  Rng rng(2024);
  DraftVerification out;
  std::vector<float> rows;
  for (int t = 0; t < trials; ++t) {
    rows.clear();
    for (const auto& r : kRows) rows.insert(rows.end(), r.begin(), r.end());
    verify(rows, rng, out);
    std::vector<int32_t> emitted;
    for (const SampleResult& r : out.accepted) emitted.push_back(r.token);
    emitted.push_back(out.next.token);
    ++h.first[emitted[0]];
    if (emitted[0] == kDraft[0]) ++h.second[emitted[1]];
  }
  return h;
}

double chi2(const std::vector<int64_t>& counts, const std::vector<double>& probs, int* cells) {
  const double n = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  double sum = 0.0;
  *cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0.0) {
      if (counts[i] > 0) return INFINITY;
      continue;
    }
    const double mean = n * probs[i];
    sum += (counts[i] - mean) * (counts[i] - mean) / mean;
    ++*cells;
  }
  return sum;
}

Verify real_verifier(const SamplingParams& params) {
  return [params, sampler = std::make_shared<Sampler>(), scratch = std::make_shared<VerifyScratch>()](
             std::span<float> rows, Rng& rng, DraftVerification& out) {
    verify_draft_tokens(*sampler, rows, kVocab, kDraft, params, PenaltyState{}, {}, {}, rng, *scratch, out);
  };
}

TEST(RejectionSamplerTest, KeepsTheTargetDistribution) {
  const Histograms h = run(real_verifier(random_params()), 60000);
  expect_matches_distribution(h.first, target_probs(kRows[0]));
  expect_matches_distribution(h.second, target_probs(kRows[1]));
  // Both drafts were accepted often and rejected often: every path of the verifier ran.
  EXPECT_GT(h.first[kDraft[0]], 10000);
  EXPECT_GT(h.second[kDraft[1]], 2000);
  EXPECT_LT(h.second[kDraft[1]], h.first[kDraft[0]] - 2000);
}

TEST(RejectionSamplerTest, TheCheckRejectsAWrongAcceptanceRule) {
  // Accepting when p(draft) >= u / 2 (twice too often) over-represents the draft token.
  const SamplingParams params = random_params();
  auto candidates = std::make_shared<Candidates>();
  const Verify wrong = [&, candidates](std::span<float> rows, Rng& rng, DraftVerification& out) {
    out.accepted.clear();
    for (size_t i = 0; i <= kDraft.size(); ++i) {
      candidates->gather(rows.subspan(i * kVocab, kVocab), params.temperature, 0.0f, params.top_k);
      if (i == kDraft.size()) {
        out.next.token = candidates->draw(rng);
        return;
      }
      if (candidates->probability(kDraft[i]) >= rng.next_double() / 2) {
        out.accepted.push_back({kDraft[i], {}});
        continue;
      }
      candidates->remove(kDraft[i]);
      out.next.token = candidates->draw(rng);
      return;
    }
  };
  const Histograms h = run(wrong, 60000);
  int cells = 0;
  const double stat = chi2(h.first, target_probs(kRows[0]), &cells);
  EXPECT_GT(stat, chi2_quantile_1e6(cells - 1)) << "the distribution check would not notice a wrong rule";
}

TEST(RejectionSamplerTest, GreedyAcceptsWhileTheDraftIsTheArgmax) {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler sampler;
  VerifyScratch scratch;
  DraftVerification out;
  Rng rng(1);
  auto rows = [] {
    std::vector<float> r;
    for (const auto& row : kRows) r.insert(r.end(), row.begin(), row.end());
    return r;
  };
  // Argmaxes: row 0 -> 1, row 1 -> 2, row 2 -> 0.
  std::vector<float> r = rows();
  const std::vector<int32_t> both{1, 2};
  verify_draft_tokens(sampler, r, kVocab, both, greedy, PenaltyState{}, {}, {}, rng, scratch, out);
  ASSERT_EQ(out.accepted.size(), 2u);
  EXPECT_EQ(out.next.token, 0);  // the bonus token
  r = rows();
  const std::vector<int32_t> second_wrong{1, 4};
  verify_draft_tokens(sampler, r, kVocab, second_wrong, greedy, PenaltyState{}, {}, {}, rng, scratch, out);
  ASSERT_EQ(out.accepted.size(), 1u);
  EXPECT_EQ(out.next.token, 2);  // the target's argmax replaces the rejected draft
  r = rows();
  const std::vector<int32_t> first_wrong{3, 2};
  verify_draft_tokens(sampler, r, kVocab, first_wrong, greedy, PenaltyState{}, {}, {}, rng, scratch, out);
  EXPECT_TRUE(out.accepted.empty());
  EXPECT_EQ(out.next.token, 1);
}

TEST(RejectionSamplerTest, LaterPositionsSeeTheAcceptedDraftsInPenaltiesAndMinTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.frequency_penalty = 1.0f;  // row 1's argmax (2, 1.5) loses to 4 (1.4) once 2 was accepted at position 0
  p.min_tokens = 2;            // EOS (6) is masked at positions 0 and 1 only
  const int32_t eos = 6;
  std::vector<float> r;
  for (const auto& row : kRows) r.insert(r.end(), row.begin(), row.end());
  r[0 * kVocab + 2] = 5.0f;    // position 0: argmax 2
  r[2 * kVocab + eos] = 9.0f;  // bonus position: EOS wins, min_tokens no longer applies there
  r[1 * kVocab + eos] = 9.0f;  // position 1: EOS would win but min_tokens masks it
  Sampler sampler;
  VerifyScratch scratch;
  DraftVerification out;
  Rng rng(1);
  const std::vector<int32_t> draft{2, 4};
  const std::vector<int32_t> stops{eos};
  verify_draft_tokens(sampler, r, kVocab, draft, p, PenaltyState{}, {}, stops, rng, scratch, out);
  ASSERT_EQ(out.accepted.size(), 2u);
  EXPECT_EQ(out.next.token, eos);
}

}  // namespace
}  // namespace podserve
