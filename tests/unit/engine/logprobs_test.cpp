// compute_logprobs against log_softmax computed here in double: values, rank and the top-n list.
#include "engine/sampling/logprobs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "sampling_test_util.h"

namespace podserve {
namespace {

using sampling_test::random_logits;

/// log_softmax in double: x_i - max - log(sum_j exp(x_j - max)).
std::vector<double> log_softmax(const std::vector<float>& x) {
  const double max = *std::max_element(x.begin(), x.end());
  double sum = 0.0;
  for (float v : x) sum += std::exp(v - max);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] - max - std::log(sum);
  return out;
}

void expect_logprobs(const std::vector<float>& logits, int32_t token, int top_n) {
  SCOPED_TRACE(::testing::Message() << "vocab " << logits.size() << " token " << token << " top_n " << top_n);
  const std::vector<double> want = log_softmax(logits);
  const TokenLogprobs got = compute_logprobs(logits, token, top_n);
  EXPECT_EQ(got.token, token);
  EXPECT_NEAR(got.logprob, want[token], 1e-5);
  // vLLM: rank = (logprobs >= logprobs[token]).sum(), the token itself included.
  int rank = 0;
  for (double v : want) rank += v >= want[token];
  EXPECT_EQ(got.rank, rank);
  // Top n: the n largest, highest first, lower id first among equals.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return want[a] > want[b]; });
  const size_t n = top_n < 0 ? logits.size() : std::min(logits.size(), static_cast<size_t>(top_n));
  ASSERT_EQ(got.top.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got.top[i].first, order[i]) << "position " << i;
    EXPECT_NEAR(got.top[i].second, want[order[i]], 1e-5) << "position " << i;
    if (i > 0) {
      EXPECT_GE(got.top[i - 1].second, got.top[i].second);
    }
  }
}

TEST(Logprobs, MatchLogSoftmaxInDouble) {
  for (int vocab : {1, 7, 1000, 49152, 151936}) {
    for (float sigma : {1.0f, 8.0f}) {
      const std::vector<float> logits = random_logits(vocab, static_cast<uint32_t>(vocab) + 31, sigma);
      const std::vector<int32_t> order = [&] {
        std::vector<int32_t> o(logits.size());
        std::iota(o.begin(), o.end(), 0);
        std::sort(o.begin(), o.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
        return o;
      }();
      // The most likely token, a middling one and the least likely one.
      for (int32_t token : {order.front(), order[order.size() / 2], order.back()}) {
        expect_logprobs(logits, token, vocab >= 100000 ? 20 : 5);
      }
    }
  }
}

TEST(Logprobs, TopNEdgeCases) {
  const std::vector<float> logits = random_logits(300, 32);
  expect_logprobs(logits, 17, 0);    // only the token's own logprob
  expect_logprobs(logits, 17, 1);
  expect_logprobs(logits, 17, 300);  // the whole vocabulary
  expect_logprobs(logits, 17, 1000);  // clamped
  expect_logprobs(logits, 17, -1);   // vLLM's -1: the whole vocabulary
  // The full list is a distribution.
  double total = 0.0;
  for (const auto& [id, lp] : compute_logprobs(logits, 0, -1).top) total += std::exp(static_cast<double>(lp));
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(Logprobs, TiesShareTheWorstRankAndListLowerIdsFirst) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f, 0.5f};
  // Three tokens tie at the top: vLLM's rank counts all of them.
  EXPECT_EQ(compute_logprobs(logits, 1, 0).rank, 3);
  EXPECT_EQ(compute_logprobs(logits, 4, 0).rank, 3);
  EXPECT_EQ(compute_logprobs(logits, 2, 0).rank, 4);
  EXPECT_EQ(compute_logprobs(logits, 5, 0).rank, 6);
  const TokenLogprobs lp = compute_logprobs(logits, 0, 4);
  ASSERT_EQ(lp.top.size(), 4u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 4);
  EXPECT_EQ(lp.top[3].first, 2);
  expect_logprobs(logits, 3, 4);
}

}  // namespace
}  // namespace podserve
