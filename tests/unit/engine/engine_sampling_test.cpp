// Sampling through the real engine: seeds, n / best_of, stop conditions, min/max tokens and logprobs.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "engine_test_util.h"

namespace podserve {
namespace {

using engine_test::Collector;
using engine_test::RequestResult;
using engine_test::run_request;
using engine_test::SeqResult;

class EngineSamplingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineConfig c;
    c.max_model_len = 256;
    c.num_kv_blocks = 128;
    engine_ = engine_test::make_engine(c);
    ASSERT_NE(engine_, nullptr);
    prompt_ = engine_->tokenizer().encode("The quick brown fox jumps over the lazy dog", false);
    ASSERT_FALSE(prompt_.empty());
  }
  void TearDown() override {
    if (engine_ != nullptr) engine_test::expect_idle(*engine_);
  }
  static SamplingParams greedy(int max_tokens) {
    SamplingParams p;
    p.temperature = 0.0f;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }
  static SamplingParams seeded(uint64_t seed, int max_tokens) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.seed = seed;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }
  std::unique_ptr<Engine> engine_;
  std::vector<int32_t> prompt_;
};

TEST_F(EngineSamplingTest, SeedIsIndependentOfTheBatch) {
  const RequestResult alone = run_request(*engine_, prompt_, seeded(42, 16), "alone");
  ASSERT_EQ(alone.seqs.at(0).tokens.size(), 16u);
  // Again, among 20 others of mixed parameters submitted around it.
  Collector collector;
  std::mt19937 gen(7);
  for (int i = 0; i < 21; ++i) {
    const std::string id = "mix" + std::to_string(i);
    std::vector<int32_t> prompt = i == 10 ? prompt_ : std::vector<int32_t>{};
    while (prompt.empty() || (i != 10 && static_cast<int>(prompt.size()) < 5 + i)) prompt.push_back(static_cast<int32_t>(gen() % 296));
    SamplingParams p = i == 10 ? seeded(42, 16) : seeded(1000 + static_cast<uint64_t>(i), 4 + i % 9);
    if (i % 3 == 0 && i != 10) p.seed.reset();
    if (i % 4 == 1) p.temperature = 0.0f;
    ASSERT_TRUE(engine_->submit({id, prompt, p}, collector.callback(id, 1)).ok());
  }
  ASSERT_TRUE(collector.wait_all());
  EXPECT_EQ(collector.get("mix10").seqs.at(0).tokens, alone.seqs.at(0).tokens);
  // A different seed gives a different sequence (16 tokens of a 299-token vocabulary at temperature 1).
  EXPECT_NE(run_request(*engine_, prompt_, seeded(43, 16)).seqs.at(0).tokens, alone.seqs.at(0).tokens);
}

// A step samples its sequences on the model's threads: every token and logprob must be the same as on one
// thread (each sequence draws from its own Rng), whatever the parameters of its neighbours.
TEST_F(EngineSamplingTest, SamplingOnSeveralThreadsKeepsEveryBit) {
  auto run_mix = [this](Engine& engine) {
    Collector collector;
    std::mt19937 gen(11);
    for (int i = 0; i < 24; ++i) {
      const std::string id = "r" + std::to_string(i);
      std::vector<int32_t> prompt = prompt_;
      for (int k = 0; k < i % 7; ++k) prompt.push_back(static_cast<int32_t>(gen() % 296));
      SamplingParams p = seeded(500 + static_cast<uint64_t>(i), 6 + i % 5);
      if (i % 4 == 1) p.temperature = 0.0f;
      if (i % 3 == 0) p.top_k = 20;
      if (i % 5 == 2) p.top_p = 0.8f;
      if (i % 6 == 3) p.repetition_penalty = 1.3f;
      if (i % 4 == 2) p.logprobs = 3;
      if (i % 8 == 5) p.n = 3;
      EXPECT_TRUE(engine.submit({id, prompt, p}, collector.callback(id, p.n)).ok());
    }
    EXPECT_TRUE(collector.wait_all());
    std::vector<SeqResult> out;
    for (int i = 0; i < 24; ++i) {
      for (const auto& [index, seq] : collector.get("r" + std::to_string(i)).seqs) out.push_back(seq);
    }
    return out;
  };
  EngineConfig c;
  c.max_model_len = 256;
  c.num_kv_blocks = 256;
  std::unique_ptr<Engine> four = engine_test::make_engine(c, 4);
  ASSERT_NE(four, nullptr);
  const std::vector<SeqResult> one_thread = run_mix(*engine_);
  const std::vector<SeqResult> four_threads = run_mix(*four);
  ASSERT_EQ(one_thread.size(), four_threads.size());
  for (size_t i = 0; i < one_thread.size(); ++i) {
    EXPECT_EQ(one_thread[i].tokens, four_threads[i].tokens) << "sequence " << i;
    ASSERT_EQ(one_thread[i].logprobs.size(), four_threads[i].logprobs.size()) << "sequence " << i;
    for (size_t t = 0; t < one_thread[i].logprobs.size(); ++t) {
      EXPECT_EQ(one_thread[i].logprobs[t].logprob, four_threads[i].logprobs[t].logprob) << "sequence " << i;
      EXPECT_EQ(one_thread[i].logprobs[t].top, four_threads[i].logprobs[t].top) << "sequence " << i;
    }
  }
  engine_test::expect_idle(*four);
}

TEST_F(EngineSamplingTest, NWithSeedIsReproducible) {
  SamplingParams p = seeded(5, 12);
  p.n = 4;
  p.best_of = 4;  // the API's best_of defaults to 1, not to n
  const RequestResult a = run_request(*engine_, prompt_, p, "a");
  const RequestResult b = run_request(*engine_, prompt_, p, "b");
  ASSERT_EQ(a.seqs.size(), 4u);
  std::set<std::vector<int32_t>> distinct;
  for (int i = 0; i < 4; ++i) {
    const SeqResult& s = a.seqs.at(i);
    EXPECT_EQ(s.finished, 1) << i;
    EXPECT_EQ(s.tokens.size(), 12u) << i;
    EXPECT_EQ(s.finish_reason, FinishReason::kLength);
    EXPECT_EQ(s.tokens, b.seqs.at(i).tokens) << i;
    distinct.insert(s.tokens);
  }
  EXPECT_GT(distinct.size(), 1u);
  EXPECT_EQ(a.late_updates, 0);
}

TEST_F(EngineSamplingTest, NGreedyAllIdentical) {
  SamplingParams p = greedy(10);
  p.n = 4;
  p.best_of = 4;  // the API's best_of defaults to 1, not to n
  const RequestResult r = run_request(*engine_, prompt_, p);
  ASSERT_EQ(r.seqs.size(), 4u);
  const std::vector<int32_t> single = run_request(*engine_, prompt_, greedy(10), "single").seqs.at(0).tokens;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.seqs.at(i).finished, 1);
    EXPECT_EQ(r.seqs.at(i).tokens, single) << i;
  }
}

// The candidates of a request draw their first token from one logits row, and the sampler edits a row in place
// (logit_bias here). Each candidate must still start from the model's logits: its first-token logprobs (of the
// raw logits) equal a single request's.
TEST_F(EngineSamplingTest, ForkedCandidatesSampleFromUneditedLogits) {
  SamplingParams p = greedy(2);
  p.logprobs = 3;
  p.logit_bias = {{prompt_[0], 5.0f}, {prompt_[1], -5.0f}};
  const SeqResult single = run_request(*engine_, prompt_, p, "single").seqs.at(0);
  ASSERT_EQ(single.logprobs.size(), 2u);
  p.n = 3;
  p.best_of = 3;
  const RequestResult r = run_request(*engine_, prompt_, p, "forked");
  ASSERT_EQ(r.seqs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const SeqResult& s = r.seqs.at(i);
    ASSERT_EQ(s.logprobs.size(), 2u) << i;
    EXPECT_EQ(s.tokens, single.tokens) << i;
    EXPECT_EQ(s.logprobs[0].logprob, single.logprobs[0].logprob) << i;
    EXPECT_EQ(s.logprobs[0].top, single.logprobs[0].top) << i;
  }
}

TEST_F(EngineSamplingTest, BestOfReturnsOneOutput) {
  SamplingParams p = seeded(9, 8);
  p.best_of = 3;
  const RequestResult r = run_request(*engine_, prompt_, p);
  ASSERT_EQ(r.seqs.size(), 1u);
  ASSERT_EQ(r.seqs.count(0), 1u);
  EXPECT_EQ(r.seqs.at(0).finished, 1);
  EXPECT_EQ(r.seqs.at(0).tokens.size(), 8u);
  EXPECT_EQ(r.late_updates, 0);
}

TEST_F(EngineSamplingTest, StopStringSpanningTokens) {
  const Tokenizer& tok = engine_->tokenizer();
  const SeqResult full = run_request(*engine_, prompt_, greedy(40), "full").seqs.at(0);
  ASSERT_EQ(full.tokens.size(), 40u);
  // The last byte of one token and the first of the next: only matches across the boundary.
  std::string stop;
  auto printable = [](char c) { return c > ' ' && c < 127; };
  for (size_t i = 3; i + 1 < full.tokens.size() && stop.empty(); ++i) {
    const std::string a = tok.token_bytes(full.tokens[i]), b = tok.token_bytes(full.tokens[i + 1]);
    if (!a.empty() && !b.empty() && printable(a.back()) && printable(b.front())) stop = std::string{a.back(), b.front()};
  }
  ASSERT_FALSE(stop.empty()) << "no ASCII token boundary in " << full.text;
  const size_t at = full.text.find(stop);
  ASSERT_NE(at, std::string::npos);
  SamplingParams p = greedy(40);
  p.stop = {stop};
  const SeqResult s = run_request(*engine_, prompt_, p).seqs.at(0);
  EXPECT_EQ(s.finish_reason, FinishReason::kStop);
  EXPECT_EQ(s.stop_reason, (std::variant<std::monostate, std::string, int32_t>{stop}));
  EXPECT_EQ(s.text, full.text.substr(0, at)) << "stop '" << stop << "'";
  ASSERT_LE(s.tokens.size(), full.tokens.size());
  EXPECT_TRUE(std::equal(s.tokens.begin(), s.tokens.end(), full.tokens.begin()));
  // include_stop_str_in_output keeps it.
  p.include_stop_str_in_output = true;
  EXPECT_EQ(run_request(*engine_, prompt_, p, "incl").seqs.at(0).text, full.text.substr(0, at + stop.size()));
}

TEST_F(EngineSamplingTest, StopAtTheFirstToken) {
  // A prompt whose first greedy token is printable ASCII, so its text alone can be the stop string.
  std::vector<int32_t> prompt = prompt_;
  std::string first;
  SeqResult full;
  for (int32_t extra = 0; extra < 60 && first.empty(); ++extra) {
    prompt.push_back(extra + 'a');
    full = run_request(*engine_, prompt, greedy(5), "full" + std::to_string(extra)).seqs.at(0);
    const std::string bytes = engine_->tokenizer().token_bytes(full.tokens.at(0));
    if (!bytes.empty() && std::all_of(bytes.begin(), bytes.end(), [](char c) { return c >= ' ' && c < 127; })) first = bytes;
  }
  ASSERT_FALSE(first.empty());
  SamplingParams p = greedy(5);
  p.stop = {first};
  const SeqResult s = run_request(*engine_, prompt, p).seqs.at(0);
  EXPECT_EQ(s.finish_reason, FinishReason::kStop);
  EXPECT_EQ(s.tokens, std::vector<int32_t>{full.tokens[0]});
  EXPECT_EQ(s.text, "");
  EXPECT_EQ(s.completion_tokens, 1);
}

TEST_F(EngineSamplingTest, StopTokenIds) {
  const SeqResult full = run_request(*engine_, prompt_, greedy(12), "full").seqs.at(0);
  const int32_t stop_id = full.tokens[3];
  const size_t first = static_cast<size_t>(std::find(full.tokens.begin(), full.tokens.end(), stop_id) - full.tokens.begin());
  SamplingParams p = greedy(12);
  p.stop_token_ids = {stop_id};
  const SeqResult s = run_request(*engine_, prompt_, p).seqs.at(0);
  EXPECT_EQ(s.finish_reason, FinishReason::kStop);
  EXPECT_EQ(s.stop_reason, (std::variant<std::monostate, std::string, int32_t>{stop_id}));
  EXPECT_EQ(s.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + first + 1));
  // The stop token itself is not part of the text.
  EXPECT_EQ(s.text, engine_->tokenizer().decode(std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + first), true));
}

TEST_F(EngineSamplingTest, MinTokensHoldsOffEos) {
  const int32_t eos = engine_->tokenizer().eos_id();
  SamplingParams p = greedy(20);
  p.ignore_eos = false;
  p.logit_bias = {{eos, 100.0f}};  // EOS wins every step it is allowed
  const SeqResult now = run_request(*engine_, prompt_, p, "now").seqs.at(0);
  EXPECT_EQ(now.tokens, std::vector<int32_t>{eos});
  EXPECT_EQ(now.finish_reason, FinishReason::kStop);
  p.min_tokens = 5;
  const SeqResult s = run_request(*engine_, prompt_, p).seqs.at(0);
  ASSERT_EQ(s.tokens.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_NE(s.tokens[static_cast<size_t>(i)], eos);
  EXPECT_EQ(s.tokens.back(), eos);
  EXPECT_EQ(s.finish_reason, FinishReason::kStop);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(s.stop_reason));
}

TEST_F(EngineSamplingTest, MaxTokens) {
  for (int max_tokens : {1, 7}) {
    const SeqResult s = run_request(*engine_, prompt_, greedy(max_tokens), "m" + std::to_string(max_tokens)).seqs.at(0);
    EXPECT_EQ(static_cast<int>(s.tokens.size()), max_tokens);
    EXPECT_EQ(s.completion_tokens, max_tokens);
    EXPECT_EQ(s.finish_reason, FinishReason::kLength);
  }
}

TEST_F(EngineSamplingTest, LogprobsConsistent) {
  for (float temperature : {0.0f, 1.0f}) {
    SamplingParams p = seeded(3, 10);
    p.temperature = temperature;
    p.logprobs = 3;
    const SeqResult s = run_request(*engine_, prompt_, p, "t" + std::to_string(temperature)).seqs.at(0);
    ASSERT_EQ(s.logprobs.size(), s.tokens.size());
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const TokenLogprobs& lp = s.logprobs[i];
      EXPECT_EQ(lp.token, s.tokens[i]);
      EXPECT_LE(lp.logprob, 0.0f);
      EXPECT_GE(lp.rank, 1);
      ASSERT_EQ(lp.top.size(), 3u);
      for (size_t j = 1; j < lp.top.size(); ++j) EXPECT_GE(lp.top[j - 1].second, lp.top[j].second);
      EXPECT_GE(lp.top[0].second, lp.logprob);
      if (temperature == 0.0f) {  // greedy takes the most likely token
        EXPECT_EQ(lp.rank, 1);
        EXPECT_EQ(lp.top[0].first, lp.token);
      }
    }
  }
}

TEST_F(EngineSamplingTest, PromptLogprobs) {
  SamplingParams p = greedy(3);
  p.prompt_logprobs = 2;
  const SeqResult s = run_request(*engine_, prompt_, p).seqs.at(0);
  ASSERT_EQ(s.prompt_logprobs.size(), prompt_.size() - 1);
  for (size_t i = 0; i < s.prompt_logprobs.size(); ++i) {
    EXPECT_EQ(s.prompt_logprobs[i].token, prompt_[i + 1]);
    EXPECT_LE(s.prompt_logprobs[i].logprob, 0.0f);
    EXPECT_LE(s.prompt_logprobs[i].top.size(), 2u);
  }
  // The same across chunked prefill (a tiny token budget splits the prompt over steps).
  EngineConfig c;
  c.max_model_len = 256;
  c.num_kv_blocks = 64;
  c.max_num_batched_tokens = 3;
  std::unique_ptr<Engine> chunked = engine_test::make_engine(c);
  ASSERT_NE(chunked, nullptr);
  const SeqResult t = run_request(*chunked, prompt_, p).seqs.at(0);
  ASSERT_EQ(t.prompt_logprobs.size(), s.prompt_logprobs.size());
  for (size_t i = 0; i < t.prompt_logprobs.size(); ++i) {
    EXPECT_EQ(t.prompt_logprobs[i].token, s.prompt_logprobs[i].token);
    EXPECT_FLOAT_EQ(t.prompt_logprobs[i].logprob, s.prompt_logprobs[i].logprob);
  }
  EXPECT_EQ(t.tokens, s.tokens);
  engine_test::expect_idle(*chunked);
}

// Preemption recomputes a prompt (and a fork that found no free block computes its own): the prompt logprobs
// must still come exactly once per output index, one per prompt token after the first.
TEST_F(EngineSamplingTest, PromptLogprobsSurvivePreemptionAndFork) {
  EngineConfig c;
  c.max_model_len = 64;
  c.block_size = 4;
  c.num_kv_blocks = 17;
  c.max_num_batched_tokens = 5;
  std::unique_ptr<Engine> tight = engine_test::make_engine(c);
  ASSERT_NE(tight, nullptr);
  Collector collector;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> prompt = prompt_;
    prompt.push_back(static_cast<int32_t>(100 + i));
    SamplingParams p = greedy(20);
    p.prompt_logprobs = 1;
    p.n = p.best_of = 1 + i % 2;
    const std::string id = "p" + std::to_string(i);
    ASSERT_TRUE(tight->submit({id, prompt, p}, collector.callback(id, p.n)).ok());
    prompts.push_back(std::move(prompt));
  }
  ASSERT_TRUE(collector.wait_all());
  for (int i = 0; i < 8; ++i) {
    const RequestResult r = collector.get("p" + std::to_string(i));
    for (const auto& [index, s] : r.seqs) {
      EXPECT_EQ(s.prompt_logprobs_updates, 1) << i << "/" << index;
      ASSERT_EQ(s.prompt_logprobs.size(), prompts[i].size() - 1) << i << "/" << index;
      for (size_t k = 0; k < s.prompt_logprobs.size(); ++k) EXPECT_EQ(s.prompt_logprobs[k].token, prompts[i][k + 1]);
    }
  }
  engine_test::expect_idle(*tight);
  EXPECT_GT(tight->stats().num_preemptions, 0);
}

}  // namespace
}  // namespace podserve
