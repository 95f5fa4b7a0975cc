// The logits processors (min_tokens, logit_bias, penalties), the order of the whole chain, greedy, seeding
// and the logprobs the Sampler attaches. Expected values are computed here from vLLM's formulas, quoted.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "engine/sampling/sampler.h"
#include "sampling_test_util.h"

namespace podserve {
namespace {

using sampling_test::draw_counts;
using sampling_test::expect_matches_distribution;
using sampling_test::random_logits;
using sampling_test::softmax_over;

constexpr float kInf = std::numeric_limits<float>::infinity();

SampleResult sample_once(std::vector<float> logits, const SamplingParams& p, const PenaltyState& state = {},
                         int num_output = 0, std::vector<int32_t> stop_ids = {}, uint64_t seed = 1) {
  Sampler sampler;
  Rng rng(seed);
  return sampler.sample(logits, p, state, num_output, stop_ids, rng);
}

SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

TEST(PenaltyState, TracksPromptMembershipAndOutputCounts) {
  const std::vector<int32_t> prompt = {5, 7, 5};
  PenaltyState s(prompt);
  for (int32_t t : {7, 9, 9}) s.accept(t);
  EXPECT_TRUE(s.in_prompt(5));
  EXPECT_TRUE(s.in_prompt(7));
  EXPECT_FALSE(s.in_prompt(9));
  EXPECT_EQ(s.output_count(5), 0);
  EXPECT_EQ(s.output_count(7), 1);
  EXPECT_EQ(s.output_count(9), 2);
  EXPECT_EQ(s.output_count(1), 0);
  EXPECT_EQ(s.num_output_tokens(), 3);
  EXPECT_EQ(s.entries().size(), 3u);  // one per distinct token
  PenaltyState fork = s;              // sequences fork for n / best_of
  fork.accept(5);
  EXPECT_EQ(fork.output_count(5), 1);
  EXPECT_EQ(s.output_count(5), 0);
}

// vLLM MinTokensLogitsProcessor: while len(output_tokens) < min_tokens, logits[stop_token_ids] = -inf.
TEST(LogitsProcessors, MinTokensMasksEosAndStopIdsUntilReached) {
  const std::vector<float> logits = random_logits(50, 1);
  const std::vector<int32_t> stops = {3, 17};
  for (int num_output = 0; num_output <= 4; ++num_output) {
    std::vector<float> x = logits;
    apply_min_tokens(x, num_output, /*min_tokens=*/3, stops);
    for (int i = 0; i < 50; ++i) {
      const bool masked = num_output < 3 && (i == 3 || i == 17);
      EXPECT_EQ(x[i], masked ? -kInf : logits[i]) << "token " << i << " after " << num_output;
    }
  }
}

TEST(Sampler, MinTokensKeepsEosFromBeingPicked) {
  std::vector<float> logits = {1.0f, 0.5f, 4.0f, 3.0f};  // 2 = EOS, 3 = a stop token id
  SamplingParams p = greedy();
  p.min_tokens = 2;
  const std::vector<int32_t> stops = {2, 3};
  EXPECT_EQ(sample_once(logits, p, {}, 0, stops).token, 0);
  EXPECT_EQ(sample_once(logits, p, {}, 1, stops).token, 0);
  EXPECT_EQ(sample_once(logits, p, {}, 2, stops).token, 2);
  // Random sampling too: the masked ids are never drawn, the rest keep softmax proportions.
  p.temperature = 1.0f;
  expect_matches_distribution(draw_counts(logits, p, 20000, 2, {}, 1, stops),
                              softmax_over({1.0, 0.5, 4.0, 3.0}, {0, 1}));
}

// vLLM LogitBiasLogitsProcessor: logits[token] += bias.
TEST(LogitsProcessors, LogitBiasIsAdded) {
  const std::vector<float> logits = random_logits(20, 2);
  std::vector<float> x = logits;
  const std::vector<std::pair<int32_t, float>> bias = {{4, 2.5f}, {9, -100.0f}, {0, 0.25f}};
  apply_logit_bias(x, bias);
  for (int i = 0; i < 20; ++i) {
    const float add = i == 4 ? 2.5f : i == 9 ? -100.0f : i == 0 ? 0.25f : 0.0f;
    EXPECT_EQ(x[i], logits[i] + add) << i;
  }
  SamplingParams p = greedy();
  p.logit_bias = {{1, 10.0f}};
  EXPECT_EQ(sample_once({3.0f, 0.0f, 2.0f}, p).token, 1);
}

// vLLM apply_penalties:
//   logits = where(logits > 0, logits / repetition, logits * repetition)   for tokens in prompt | output
//   logits -= frequency_penalty * output_bin_counts
//   logits -= presence_penalty * (output_bin_counts > 0)
TEST(LogitsProcessors, PenaltiesMatchVllmFormulas) {
  const int vocab = 400;
  const std::vector<float> logits = random_logits(vocab, 3);
  std::mt19937 gen(4);
  std::uniform_int_distribution<int32_t> token(0, vocab - 1);
  std::vector<int32_t> prompt(60), output(80);
  for (auto& t : prompt) t = token(gen);
  for (auto& t : output) t = token(gen) % 100;  // repeats, some overlapping the prompt
  PenaltyState state(prompt);
  std::map<int32_t, int> counts;
  for (int32_t t : output) {
    state.accept(t);
    ++counts[t];
  }
  const std::set<int32_t> in_prompt(prompt.begin(), prompt.end());
  struct Case {
    double repetition, frequency, presence;
  };
  for (const Case& c : {Case{1.3, 0, 0}, Case{0.7, 0, 0}, Case{1, 0.4, 0}, Case{1, 0, -0.9}, Case{1.2, 0.5, 0.8}}) {
    SCOPED_TRACE(::testing::Message() << c.repetition << " " << c.frequency << " " << c.presence);
    std::vector<float> x = logits;
    apply_penalties(x, state, static_cast<float>(c.repetition), static_cast<float>(c.frequency),
                    static_cast<float>(c.presence));
    for (int i = 0; i < vocab; ++i) {
      double want = logits[i];
      const int count = counts.count(i) ? counts[i] : 0;
      if (in_prompt.count(i) || count > 0) want = want > 0 ? want / c.repetition : want * c.repetition;
      want -= c.frequency * count;
      want -= c.presence * (count > 0 ? 1 : 0);
      EXPECT_NEAR(x[i], want, 1e-5 * (1 + std::fabs(want))) << "token " << i;
    }
  }
}

// Order (1) min_tokens / (2) logit_bias before (3) penalties: token 0 (logit -2, in the prompt) with bias +3
// and repetition 2 ends at (-2 + 3) / 2 = 0.5 > token 1's 0. Penalizing first would give -2 * 2 + 3 = -1.
TEST(Sampler, LogitBiasComesBeforePenalties) {
  SamplingParams p = greedy();
  p.logit_bias = {{0, 3.0f}};
  p.repetition_penalty = 2.0f;
  const std::vector<int32_t> prompt = {0};
  EXPECT_EQ(sample_once({-2.0f, 0.0f}, p, PenaltyState(prompt)).token, 0);
}

// (3) penalties before (4) temperature: logits {1, 0}, token 0 generated once, frequency 1, T = 0.5 gives
// {(1 - 1) / 0.5, 0} = uniform. Temperature first would give {1 / 0.5 - 1, 0} = {1, 0}.
TEST(Sampler, PenaltiesComeBeforeTemperature) {
  SamplingParams p;
  p.temperature = 0.5f;
  p.frequency_penalty = 1.0f;
  PenaltyState state;
  state.accept(0);
  expect_matches_distribution(draw_counts({1.0f, 0.0f}, p, 50000, 5, state), {0.5, 0.5});
}

// (5) min_p after (4) temperature: vLLM drops p_i < min_p * p_max with p = softmax(logits / T).
TEST(Sampler, MinPAppliesToTheTemperatureScaledDistribution) {
  SamplingParams p;
  p.min_p = 0.3f;
  // Raw ratio e^-1.5 = 0.22 < 0.3, but at T = 2 it is e^-0.75 = 0.47: both stay, softmax(l / 2).
  p.temperature = 2.0f;
  expect_matches_distribution(draw_counts({0.0f, -1.5f}, p, 50000, 6), softmax_over({0.0, -0.75}, {0, 1}));
  // Raw ratio e^-1 = 0.37 >= 0.3, but at T = 0.5 it is e^-2 = 0.14: only the top token stays.
  p.temperature = 0.5f;
  const auto counts = draw_counts({0.0f, -1.0f}, p, 2000, 7);
  EXPECT_EQ(counts[0], 2000);
}

// (6) top-p runs on the distribution renormalized after min_p: probabilities {.5, .3, .15, .05}, min_p 0.2
// drops .05 (< .2 * .5); renormalized {.526, .316, .158} reaches 0.83 with two tokens, whereas on the
// original distribution top-p 0.83 would need three.
TEST(Sampler, TopPSeesTheMinPSurvivorsRenormalized) {
  SamplingParams p;
  p.min_p = 0.2f;
  p.top_p = 0.83f;
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  expect_matches_distribution(draw_counts(logits, p, 50000, 8), {0.625, 0.375, 0.0, 0.0});
}

TEST(Sampler, GreedyTakesLowestIdOnTiesAndIgnoresTruncation) {
  SamplingParams p = greedy();
  p.top_k = 3;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  EXPECT_EQ(sample_once({1.0f, 5.0f, 2.0f, 5.0f, 5.0f}, p).token, 1);
  // Greedy draws nothing from the request's Rng.
  Sampler sampler;
  Rng rng(42), untouched(42);
  std::vector<float> logits = random_logits(100, 9);
  sampler.sample(logits, p, {}, 0, {}, rng);
  EXPECT_EQ(rng.next_u64(), untouched.next_u64());
}

TEST(Sampler, EverythingMaskedFallsBackToArgmax) {
  SamplingParams p;
  p.min_tokens = 5;
  EXPECT_EQ(sample_once({-kInf, 1.0f, -kInf}, p, {}, 0, {1}).token, 0);
}

TEST(Sampler, SeededDrawsAreReproducibleAndIndependentOfOtherRequests) {
  SamplingParams p;
  p.temperature = 0.9f;
  p.top_k = 50;
  p.top_p = 0.95f;
  p.min_p = 0.01f;
  p.frequency_penalty = 0.3f;
  p.repetition_penalty = 1.1f;
  const std::vector<float> logits = random_logits(300, 10, 1.5f);
  const std::vector<int32_t> prompt = {1, 2, 3};
  // Runs sequences with the given seeds in lockstep through one shared Sampler.
  auto run = [&](std::vector<uint64_t> seeds) {
    Sampler sampler;
    std::vector<Rng> rngs;
    std::vector<PenaltyState> states;
    for (uint64_t s : seeds) {
      rngs.emplace_back(s);
      states.emplace_back(prompt);
    }
    std::vector<std::vector<int32_t>> out(seeds.size());
    for (int step = 0; step < 200; ++step) {
      for (size_t i = 0; i < seeds.size(); ++i) {
        std::vector<float> x = logits;
        const int32_t t = sampler.sample(x, p, states[i], step, {}, rngs[i]).token;
        states[i].accept(t);
        out[i].push_back(t);
      }
    }
    return out;
  };
  const auto alone = run({7})[0];
  EXPECT_EQ(run({7})[0], alone);
  const auto together = run({3, 7, 11});
  EXPECT_EQ(together[1], alone);
  EXPECT_NE(together[0], alone);
}

TEST(Sampler, LogprobsComeFromTheRawLogits) {
  const std::vector<float> raw = random_logits(1000, 11);
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_k = 20;
  p.logit_bias = {{5, 4.0f}};
  p.repetition_penalty = 1.5f;
  p.presence_penalty = 1.0f;
  p.logprobs = 4;
  const std::vector<int32_t> prompt = {5, 6, 7};
  PenaltyState state(prompt);
  state.accept(8);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const SampleResult r = sample_once(raw, p, state, 1, {}, seed);
    ASSERT_TRUE(r.logprobs.has_value());
    const TokenLogprobs want = compute_logprobs(raw, r.token, 4);
    EXPECT_EQ(r.logprobs->token, r.token);
    EXPECT_EQ(r.logprobs->logprob, want.logprob);
    EXPECT_EQ(r.logprobs->rank, want.rank);
    EXPECT_EQ(r.logprobs->top, want.top);
  }
  // best_of > n needs the token's logprob for ranking, without alternatives; otherwise none.
  p.logprobs.reset();
  p.n = 1;
  p.best_of = 3;
  const SampleResult ranked = sample_once(raw, p, state, 1);
  ASSERT_TRUE(ranked.logprobs.has_value());
  EXPECT_TRUE(ranked.logprobs->top.empty());
  EXPECT_EQ(ranked.logprobs->logprob, compute_logprobs(raw, ranked.token, 0).logprob);
  p.best_of = 1;
  EXPECT_FALSE(sample_once(raw, p, state, 1).logprobs.has_value());
}

}  // namespace
}  // namespace podserve
