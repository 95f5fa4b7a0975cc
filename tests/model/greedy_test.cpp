// Model tier: the forward pass on the real default GGUF against llama.cpp's, from goldens written by
// tools/goldens/model.py (llama-cpp-python on the same file).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/sampler.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

// llama.cpp and podserve both use 8-bit activations and fp16 K/V but differ in summation order and kernels;
// the largest first-step difference measured on these prompts is 0.57 (logits range ~10..35).
constexpr double kLogitTolerance = 0.75;
// A continuation may only diverge from llama.cpp's at a step where llama.cpp's own top-2 margin is below this
// (a near tie that float differences of the size above can flip); the comparison of that case ends there.
constexpr double kNearTie = 0.5;

class GreedyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = load_model(testing::model_path(), LoadOptions{.show_progress = false});
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    model_ = std::move(model).value().release();
    goldens_ = new json::value(json::parse(testing::read_file(testing::test_data_dir() + "/model_greedy.json")));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete goldens_;
  }
  static LoadedModel* model_;
  static json::value* goldens_;
};
LoadedModel* GreedyTest::model_ = nullptr;
json::value* GreedyTest::goldens_ = nullptr;

std::vector<int32_t> ids_of(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

TEST_F(GreedyTest, MatchesLlamaCppContinuations) {
  ASSERT_NE(model_, nullptr);
  CausalLm& lm = model_->lm();
  const auto& cases = goldens_->at("cases").as_array();
  ASSERT_GE(cases.size(), 6u);
  int compared_tokens = 0;
  for (const auto& c : cases) {
    const auto prompt = ids_of(c.at("prompt_tokens"));
    const auto expected = ids_of(c.at("greedy_tokens"));
    const auto& margins = c.at("top2_margins").as_array();
    SCOPED_TRACE(json::value_to<std::string>(c.at("prompt")));
    auto cache = lm.new_cache(1024);
    std::vector<float> logits(lm.config().vocab_size);
    ASSERT_TRUE(lm.forward(prompt, 0, *cache, logits.data()).ok());
    // First-step logits of llama.cpp's top candidates.
    for (const auto& top : c.at("first_top_logits").as_array()) {
      const auto id = top.at("id").as_int64();
      EXPECT_NEAR(logits[id], top.at("logit").as_double(), kLogitTolerance) << "token " << id;
    }
    int pos = static_cast<int>(prompt.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const int32_t token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      if (token != expected[i]) {
        const double margin = margins[i].to_number<double>();
        EXPECT_LT(margin, kNearTie) << "diverged at step " << i << ": got " << token << ", llama.cpp " << expected[i];
        std::printf("case diverges at step %zu/%zu, where llama.cpp's top-2 margin is %.3f\n", i, expected.size(), margin);
        break;
      }
      ++compared_tokens;
      ASSERT_TRUE(lm.forward(std::span<const int32_t>(&token, 1), pos++, *cache, logits.data()).ok());
    }
  }
  std::printf("%d greedy tokens identical to llama.cpp before a near-tie\n", compared_tokens);
  EXPECT_GE(compared_tokens, 100);
}

TEST_F(GreedyTest, ChunkedPrefillEqualsOneShot) {
  CausalLm& lm = model_->lm();
  const auto prompt = ids_of(goldens_->at("cases").as_array()[4].at("prompt_tokens"));
  std::vector<float> one_shot(lm.config().vocab_size), chunked(lm.config().vocab_size);
  auto cache = lm.new_cache(256);
  ASSERT_TRUE(lm.forward(prompt, 0, *cache, one_shot.data()).ok());
  auto cache2 = lm.new_cache(256);
  const size_t half = prompt.size() / 2;
  ASSERT_TRUE(lm.forward(std::span<const int32_t>(prompt.data(), half), 0, *cache2, chunked.data()).ok());
  ASSERT_TRUE(lm.forward(std::span<const int32_t>(prompt.data() + half, prompt.size() - half), static_cast<int>(half),
                         *cache2, chunked.data()).ok());
  for (size_t i = 0; i < one_shot.size(); ++i) ASSERT_NEAR(one_shot[i], chunked[i], 1e-3) << i;
}

TEST_F(GreedyTest, RejectsBadInput) {
  CausalLm& lm = model_->lm();
  auto cache = lm.new_cache(8);
  std::vector<float> logits(lm.config().vocab_size);
  const std::vector<int32_t> too_long(9, 1);
  EXPECT_EQ(lm.forward(too_long, 0, *cache, logits.data()).code(), StatusCode::kOutOfRange);
  const std::vector<int32_t> bad_id = {lm.config().vocab_size};
  EXPECT_EQ(lm.forward(bad_id, 0, *cache, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lm.forward({}, 0, *cache, logits.data()).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace podserve
