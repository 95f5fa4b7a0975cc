// Batch invariance: greedy token ids of a request must not depend on what else runs with it, on chunked
// prefill, on prefix caching, or on being preempted and recomputed.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "engine_test_util.h"
#include "model/causal_lm.h"
#include "engine/spec_decode/speculative_config.h"

namespace podserve {
namespace {

using engine_test::Collector;
using engine_test::make_engine;

constexpr int kNumPrompts = 64;
constexpr int kMaxModelLen = 128;  // longest request: 60 prompt + 20 output tokens

struct Case {
  std::vector<int32_t> prompt;
  int max_tokens;
};

// 64 distinct prompts of 1..60 tokens; every other one starts with one of three stems so the prefix cache hits.
std::vector<Case> make_cases() {
  std::mt19937 gen(1234);
  std::uniform_int_distribution<int32_t> token(0, 295);  // normal tokens of the tiny vocabulary
  std::vector<std::vector<int32_t>> stems(3);
  for (auto& stem : stems) {
    for (int i = 0; i < 36; ++i) stem.push_back(token(gen));
  }
  std::vector<Case> cases;
  for (int i = 0; i < kNumPrompts; ++i) {
    Case c;
    const int len = 1 + static_cast<int>(gen() % 60);
    if (i % 2 == 0 && len > 36) c.prompt = stems[static_cast<size_t>(i / 2) % 3];
    while (static_cast<int>(c.prompt.size()) < len) c.prompt.push_back(token(gen));
    c.max_tokens = 6 + static_cast<int>(gen() % 15);
    cases.push_back(std::move(c));
  }
  std::set<std::vector<int32_t>> distinct;
  for (const Case& c : cases) distinct.insert(c.prompt);
  EXPECT_EQ(distinct.size(), cases.size());
  return cases;
}

SamplingParams greedy(int max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;  // full-length outputs: more tokens compared, more KV pressure
  return p;
}

// Runs every case on a fresh engine, all submitted at once (or one at a time), and returns the token ids.
std::vector<std::vector<int32_t>> run_all(const EngineConfig& config, bool one_at_a_time, EngineStats* stats_out) {
  std::unique_ptr<Engine> engine;
  if (config.speculative.method == SpeculativeMethod::kDraftModel) {  // the tiny model drafts for itself
    Result<std::unique_ptr<Engine>> created =
        Engine::create(engine_test::load_tiny_model(), config, engine_test::load_tiny_model());
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    if (created.ok()) engine = std::move(*created);
  } else {
    engine = make_engine(config);
  }
  if (engine == nullptr) return {};
  const std::vector<Case> cases = make_cases();
  Collector collector;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string id = "r" + std::to_string(i);
    const Status st = engine->submit({id, cases[i].prompt, greedy(cases[i].max_tokens)}, collector.callback(id, 1));
    EXPECT_TRUE(st.ok()) << st.to_string();
    if (one_at_a_time) {
      EXPECT_TRUE(collector.wait(id)) << id << " timed out";
    }
  }
  EXPECT_TRUE(collector.wait_all()) << "timed out";
  std::vector<std::vector<int32_t>> tokens;
  for (size_t i = 0; i < cases.size(); ++i) {
    const engine_test::RequestResult r = collector.get("r" + std::to_string(i));
    EXPECT_EQ(r.finals, 1);
    EXPECT_EQ(r.late_updates, 0);
    const engine_test::SeqResult& s = r.seqs.at(0);
    EXPECT_EQ(s.finish_reason, FinishReason::kLength) << "r" << i;
    EXPECT_EQ(static_cast<int>(s.tokens.size()), cases[i].max_tokens) << "r" << i;
    tokens.push_back(s.tokens);
  }
  engine_test::expect_idle(*engine);
  if (stats_out != nullptr) *stats_out = engine->stats();
  engine->shutdown();
  return tokens;
}

EngineConfig base_config() {
  EngineConfig c;
  c.max_model_len = kMaxModelLen;
  c.num_kv_blocks = 256;
  return c;
}

class EngineBatchingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineStats stats;
    reference_ = new std::vector<std::vector<int32_t>>(run_all(base_config(), /*one_at_a_time=*/true, &stats));
    EXPECT_GT(stats.prefix_cache_hits, 0) << "the stems should hit the prefix cache";
  }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
  }
  static void expect_same_as_reference(const std::vector<std::vector<int32_t>>& got) {
    ASSERT_EQ(got.size(), reference_->size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], (*reference_)[i]) << "prompt " << i;
  }
  static std::vector<std::vector<int32_t>>* reference_;
};
std::vector<std::vector<int32_t>>* EngineBatchingTest::reference_ = nullptr;

TEST_F(EngineBatchingTest, TinyModelLoadsAndOutputsVary) {
  std::unique_ptr<LoadedModel> model = engine_test::load_tiny_model();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->lm().config().n_layers, 2);
  EXPECT_EQ(model->lm().config().hidden, 64);
  EXPECT_EQ(model->lm().config().n_kv_heads, 2);
  EXPECT_TRUE(model->lm().config().tied_embeddings);
  EXPECT_EQ(model->context_length(), 512);
  EXPECT_EQ(model->tokenizer().eos_id(), model->tokenizer().find_token("<|endoftext|>"));
  EXPECT_FALSE(model->chat_template().empty());
  // The merges work: a common word is fewer tokens than bytes, and it round-trips.
  const std::vector<int32_t> ids = model->tokenizer().encode("the cat in the hat", false);
  EXPECT_LT(ids.size(), 18u);
  EXPECT_EQ(model->tokenizer().decode(ids, true), "the cat in the hat");
  // Non-degenerate: the greedy continuations are not all the same token.
  ASSERT_EQ(reference_->size(), static_cast<size_t>(kNumPrompts));
  std::set<int32_t> distinct;
  for (const auto& t : *reference_) distinct.insert(t.begin(), t.end());
  EXPECT_GT(distinct.size(), 20u);
}

TEST_F(EngineBatchingTest, AllAtOnce) {
  EngineStats stats;
  expect_same_as_reference(run_all(base_config(), false, &stats));
  EXPECT_GT(stats.max_batch_sequences, 8);  // it really batched
}

TEST_F(EngineBatchingTest, PrefixCachingOff) {
  EngineConfig c = base_config();
  c.enable_prefix_caching = false;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_EQ(stats.prefix_cache_hits, 0);
}

TEST_F(EngineBatchingTest, TinyTokenBudgetChunksPrefill) {
  EngineConfig c = base_config();
  c.max_num_batched_tokens = 7;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
}

TEST_F(EngineBatchingTest, PreemptionBlockSize4) {
  EngineConfig c = base_config();
  c.block_size = 4;
  c.num_kv_blocks = kMaxModelLen / 4 + 2;  // just above one max-length request
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_GT(stats.num_preemptions, 0);
}

TEST_F(EngineBatchingTest, PreemptionBlockSize16WithChunkedPrefill) {
  EngineConfig c = base_config();
  c.block_size = 16;
  c.num_kv_blocks = kMaxModelLen / 16 + 1;
  c.max_num_batched_tokens = 13;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_GT(stats.num_preemptions, 0);
}

// Speculative decoding (n-gram drafts verified k at a time) must not change a greedy token, whatever the batch,
// the token budget (drafts trimmed to it) or preemption (drafts dropped, K/V recomputed).
EngineConfig speculative(EngineConfig c) {
  c.speculative.method = SpeculativeMethod::kNgram;
  c.speculative.num_speculative_tokens = 3;
  c.speculative.prompt_lookup_min = 1;
  c.speculative.prompt_lookup_max = 3;
  return c;
}

void expect_drafts_accepted(const EngineStats& stats) {
  EXPECT_GT(stats.spec_num_drafts, 0);
  EXPECT_GT(stats.spec_num_accepted_tokens, 0);
  EXPECT_LT(stats.spec_num_accepted_tokens, stats.spec_num_draft_tokens);  // some rejected too
  ASSERT_EQ(stats.spec_accepted_per_pos.size(), 3u);
  EXPECT_EQ(stats.spec_accepted_per_pos[0] + stats.spec_accepted_per_pos[1] + stats.spec_accepted_per_pos[2],
            stats.spec_num_accepted_tokens);
  EXPECT_GE(stats.spec_accepted_per_pos[0], stats.spec_accepted_per_pos[1]);
  // Fewer steps than tokens: some steps emitted several tokens per sequence.
}

TEST_F(EngineBatchingTest, SpeculativeNgramAllAtOnce) {
  EngineStats stats;
  expect_same_as_reference(run_all(speculative(base_config()), false, &stats));
  expect_drafts_accepted(stats);
}

TEST_F(EngineBatchingTest, SpeculativeNgramOneAtATimeTakesFewerSteps) {
  EngineStats plain, spec;
  run_all(base_config(), true, &plain);
  expect_same_as_reference(run_all(speculative(base_config()), true, &spec));
  expect_drafts_accepted(spec);
  EXPECT_EQ(spec.generation_tokens, plain.generation_tokens);
  EXPECT_LT(spec.steps, plain.steps);
}

TEST_F(EngineBatchingTest, SpeculativeNgramTinyTokenBudget) {
  EngineConfig c = speculative(base_config());
  c.max_num_batched_tokens = 7;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  expect_drafts_accepted(stats);
}

TEST_F(EngineBatchingTest, SpeculativeNgramPreemptionBlockSize4) {
  EngineConfig c = speculative(base_config());
  c.block_size = 4;
  c.num_kv_blocks = kMaxModelLen / 4 + 2;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_GT(stats.num_preemptions, 0);
  expect_drafts_accepted(stats);
}

// A draft model (the tiny model drafting for itself: its greedy drafts are the target's argmax, so all are
// accepted and every step emits k + 1 tokens) through the same batching, budget and preemption paths.
EngineConfig draft_model(EngineConfig c) {
  c.speculative.method = SpeculativeMethod::kDraftModel;
  c.speculative.num_speculative_tokens = 3;
  c.speculative.draft_model = engine_test::tiny_model_path();
  return c;
}

TEST_F(EngineBatchingTest, SpeculativeDraftModelAllAccepted) {
  EngineStats stats;
  expect_same_as_reference(run_all(draft_model(base_config()), false, &stats));
  EXPECT_GT(stats.spec_num_drafts, 0);
  EXPECT_EQ(stats.spec_num_accepted_tokens, stats.spec_num_draft_tokens);  // the same model: nothing rejected
}

TEST_F(EngineBatchingTest, SpeculativeDraftModelTinyBudget) {
  EngineConfig c = draft_model(base_config());
  c.max_num_batched_tokens = 7;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_GT(stats.spec_num_accepted_tokens, 0);
}

TEST_F(EngineBatchingTest, SpeculativeDraftModelPreemption) {
  EngineConfig c = draft_model(base_config());
  c.block_size = 4;
  c.num_kv_blocks = kMaxModelLen / 4 + 2;
  EngineStats stats;
  expect_same_as_reference(run_all(c, false, &stats));
  EXPECT_GT(stats.num_preemptions, 0);
  EXPECT_GT(stats.spec_num_accepted_tokens, 0);
}

}  // namespace
}  // namespace podserve
