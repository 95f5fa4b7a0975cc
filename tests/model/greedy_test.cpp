// Model tier: the forward pass on the real default GGUF against llama.cpp's, from goldens written by
// tools/goldens/model.py (llama-cpp-python on the same file).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/sampling/logprobs.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "llama_cpp_goldens.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

// llama.cpp and podserve both use 8-bit activations and fp16 K/V but differ in summation order and kernels;
// the largest first-step difference measured on these prompts is 0.57 (logits range ~10..35).
constexpr double kLogitTolerance = 0.75;
// A continuation may only diverge from llama.cpp's at a step where llama.cpp's own top-2 margin is below this
// (a near tie that float differences of the size above can flip); see llama_cpp_goldens.h for the whole rule.
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

constexpr testing::ScrambledKv kKv{.block_size = 16, .blocks = 64};
constexpr int kBlockSize = kKv.block_size;
constexpr int kBlocks = kKv.blocks;
using testing::ids_of;

KvPool make_pool(CausalLm& lm) { return kKv.make_pool(lm); }
Status run(CausalLm& lm, KvPool& pool, std::span<const int32_t> tokens, int start, std::vector<float>& logits) {
  return kKv.run(lm, pool, tokens, start, logits);
}

TEST_F(GreedyTest, MatchesLlamaCppContinuations) {
  ASSERT_NE(model_, nullptr);
  const auto& cases = goldens_->at("cases").as_array();
  // Issue 3: >= 20 prompts (raw and chat-formatted), continuations of >= 32 tokens.
  ASSERT_GE(cases.size(), 20u);
  const testing::GoldensTally tally =
      testing::compare_with_llama_cpp(*model_, cases, {kLogitTolerance, kNearTie}, kKv, /*show=*/false);
  EXPECT_GE(tally.identical_prefix_tokens, 300);
  EXPECT_GE(tally.identical_cases, 8);
}

TEST_F(GreedyTest, ChunkedPrefillEqualsOneShot) {
  const auto prompt = ids_of(goldens_->at("cases").as_array()[4].at("prompt_tokens"));
  testing::expect_chunked_prefill_equals_one_shot(model_->lm(), kKv, prompt);
}

TEST_F(GreedyTest, TwoSequencesInOneBatchEqualSeparateRuns) {
  CausalLm& lm = model_->lm();
  const auto a = ids_of(goldens_->at("cases").as_array()[0].at("prompt_tokens"));
  const auto b = ids_of(goldens_->at("cases").as_array()[5].at("prompt_tokens"));
  std::vector<float> alone_a, alone_b;
  KvPool pool = make_pool(lm);
  ASSERT_TRUE(run(lm, pool, a, 0, alone_a).ok());
  ASSERT_TRUE(run(lm, pool, b, 0, alone_b).ok());
  // Both in one batch, in disjoint blocks of one pool.
  KvPool shared = make_pool(lm);
  std::vector<int32_t> table_a(kBlocks / 2), table_b(kBlocks / 2);
  for (int i = 0; i < kBlocks / 2; ++i) table_a[i] = 2 * i, table_b[i] = 2 * i + 1;
  ForwardBatch batch;
  batch.add_sequence(a, 0, table_a, kBlockSize, true);
  batch.add_sequence(b, 0, table_b, kBlockSize, true);
  std::vector<float> both(2 * static_cast<size_t>(lm.config().vocab_size));
  ASSERT_TRUE(lm.forward(batch, shared, both.data()).ok());
  for (size_t i = 0; i < alone_a.size(); ++i) {
    ASSERT_EQ(both[i], alone_a[i]) << i;
    ASSERT_EQ(both[alone_a.size() + i], alone_b[i]) << i;
  }
}

TEST_F(GreedyTest, RejectsBadBatches) {
  CausalLm& lm = model_->lm();
  KvPool pool = make_pool(lm);
  std::vector<float> logits(lm.config().vocab_size);
  const std::vector<int32_t> table = {0};  // covers positions 0..15 only
  ForwardBatch too_long;
  too_long.add_sequence(std::vector<int32_t>(17, 1), 0, table, kBlockSize, true);
  EXPECT_EQ(lm.forward(too_long, pool, logits.data()).code(), StatusCode::kInvalidArgument);
  ForwardBatch bad_id;
  bad_id.add_sequence(std::vector<int32_t>{lm.config().vocab_size}, 0, table, kBlockSize, true);
  EXPECT_EQ(lm.forward(bad_id, pool, logits.data()).code(), StatusCode::kInvalidArgument);
  ForwardBatch bad_block;
  bad_block.add_sequence(std::vector<int32_t>{1}, 0, std::vector<int32_t>{kBlocks}, kBlockSize, true);
  EXPECT_EQ(lm.forward(bad_block, pool, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lm.forward(ForwardBatch{}, pool, logits.data()).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace podserve
