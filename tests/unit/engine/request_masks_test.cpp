// allowed_token_ids and bad_words in the sampler, as vLLM V1 applies them (vllm/v1/sample/sampler.py: the allowed
// mask, then apply_bad_words over the generated tokens, before logit_bias/min_tokens/penalties; logprobs of the
// raw logits).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "engine/sampling/sampler.h"

namespace podserve {
namespace {

std::vector<float> ramp(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i) * 0.25f;  // the last token is the argmax
  return v;
}

TEST(AllowedTokenIdsTest, GreedyPicksTheBestAllowed) {
  Sampler sampler;
  Rng rng(1);
  SamplingParams p;
  p.temperature = 0;
  p.allowed_token_ids = {3, 7, 11};
  std::vector<float> logits = ramp(16);
  EXPECT_EQ(sampler.sample(logits, p, PenaltyState{}, 0, {}, rng).token, 11);
}

TEST(AllowedTokenIdsTest, DrawsOnlyAllowedAndLogprobsStayRaw) {
  Sampler sampler;
  Rng rng(7);
  SamplingParams p;
  p.temperature = 1;
  p.allowed_token_ids = {0, 5, 9};
  p.logprobs = 2;
  const std::vector<float> raw = ramp(16);
  std::set<int32_t> seen;
  for (int i = 0; i < 500; ++i) {
    std::vector<float> logits = raw;
    SampleResult r = sampler.sample(logits, p, PenaltyState{}, 0, {}, rng);
    seen.insert(r.token);
    ASSERT_TRUE(r.logprobs.has_value());
    // The top-2 alternatives are of the unmasked row (15, 14), as vLLM's default raw_logprobs.
    EXPECT_EQ(r.logprobs->top[0].first, 15);
    EXPECT_EQ(r.logprobs->top[1].first, 14);
  }
  EXPECT_EQ(seen, (std::set<int32_t>{0, 5, 9}));
}

TEST(BadWordsTest, OneTokenWordsAreAlwaysBanned) {
  std::vector<float> logits = ramp(8);
  const std::vector<std::vector<int32_t>> words = {{7}};
  apply_bad_words(logits, words, {});
  EXPECT_EQ(logits[7], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(logits[6], 1.5f);
}

TEST(BadWordsTest, LastTokenBannedOnlyAfterItsPrefixWasGenerated) {
  const std::vector<std::vector<int32_t>> words = {{2, 3, 5}};
  const std::vector<int32_t> after_prefix = {9, 2, 3};
  const std::vector<int32_t> partial = {9, 3};
  const std::vector<int32_t> too_short = {3};
  std::vector<float> logits = ramp(8);
  apply_bad_words(logits, words, after_prefix);
  EXPECT_EQ(logits[5], -std::numeric_limits<float>::infinity());
  for (const auto* output : {&partial, &too_short}) {
    logits = ramp(8);
    apply_bad_words(logits, words, *output);
    EXPECT_EQ(logits[5], 1.25f);
  }
}

TEST(BadWordsTest, SamplerUsesTheOutputSoFar) {
  Sampler sampler;
  Rng rng(3);
  SamplingParams p;
  p.temperature = 0;
  p.bad_words_token_ids = {{4, 15}};
  std::vector<float> logits = ramp(16);
  const std::vector<int32_t> output = {4};
  EXPECT_EQ(sampler.sample(logits, p, PenaltyState{}, 1, {}, rng, {}, output).token, 14);
  logits = ramp(16);
  EXPECT_EQ(sampler.sample(logits, p, PenaltyState{}, 0, {}, rng, {}, {}).token, 15);  // nothing generated yet
}

}  // namespace
}  // namespace podserve
