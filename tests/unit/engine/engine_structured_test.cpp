// Structured output in the engine, on the tiny model: every sampled output (temperature 1, many seeds) is in the
// grammar's language, checked with std::regex and the choice list (references we did not write); n > 1 forks the
// grammar state, preemption keeps it, abort frees it, EOS comes only where the grammar may end, a failing grammar
// finishes the request with an error, and masking waits for the reasoning hook.
#include <cmath>
#include <regex>
#include <set>

#include "engine_test_util.h"

namespace podserve {
namespace {

using engine_test::Collector;
using engine_test::make_engine;
using engine_test::run_request;
using engine_test::RequestResult;

StructuredConstraint grammar(const std::string& ebnf) {
  StructuredConstraint c;
  c.kind = StructuredConstraint::Kind::kGrammar;
  c.spec = ebnf;
  return c;
}

SamplingParams sampled(uint64_t seed, StructuredConstraint c, int max_tokens = 40) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = seed;
  p.max_tokens = max_tokens;
  p.structured = std::move(c);
  return p;
}

const std::vector<int32_t> kPrompt = {1, 2, 3, 4, 5};

TEST(EngineStructuredTest, ChoiceOutputsAreChoices) {
  auto engine = make_engine(EngineConfig{});
  ASSERT_NE(engine, nullptr);
  StructuredConstraint c;
  c.kind = StructuredConstraint::Kind::kChoice;
  c.choices = {"yes", "no", "maybe not", "\xc3\xa9t\xc3\xa9"};
  const std::set<std::string> allowed(c.choices.begin(), c.choices.end());
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    SamplingParams p = sampled(seed, c);
    p.n = 3;
    RequestResult r = run_request(*engine, kPrompt, p, "choice" + std::to_string(seed));
    ASSERT_EQ(r.seqs.size(), 3u);
    for (const auto& [index, s] : r.seqs) {
      EXPECT_TRUE(allowed.count(s.text)) << "'" << s.text << "'";
      EXPECT_EQ(s.finish_reason, FinishReason::kStop);
      EXPECT_EQ(s.tokens.back(), engine->tokenizer().eos_id());  // ended by EOS, allowed only at the end
      seen.insert(s.text);
    }
  }
  EXPECT_GE(seen.size(), 2u);  // temperature 1 over 90 samples: not one answer only
  engine_test::expect_idle(*engine);
  EXPECT_EQ(engine->stats().grammar_matchers, 0);
}

TEST(EngineStructuredTest, GrammarOutputsMatchRegexUnderPreemption) {
  // Few KV blocks: constrained sequences are preempted and recomputed; their grammar state must survive.
  EngineConfig config;
  config.block_size = 4;
  config.num_kv_blocks = 40;
  config.max_model_len = 128;
  auto engine = make_engine(config);
  ASSERT_NE(engine, nullptr);
  const char* ebnf = "root ::= \"{\" item (\", \" item){0,3} \"}\"\nitem ::= [a-z]{1,6} \"=\" [0-9]{1,3}\n";
  const std::regex re(R"(\{[a-z]{1,6}=[0-9]{1,3}(, [a-z]{1,6}=[0-9]{1,3}){0,3}\})");
  Collector collector;
  for (int i = 0; i < 16; ++i) {
    const std::string id = "g" + std::to_string(i);
    GenerationRequest req{id, kPrompt, sampled(100 + i, grammar(ebnf), 100)};
    ASSERT_TRUE(engine->submit(std::move(req), collector.callback(id, 1)).ok());
  }
  ASSERT_TRUE(collector.wait_all());
  int complete = 0;
  for (const auto& [id, r] : collector.all()) {
    const engine_test::SeqResult& s = r.seqs.at(0);
    ASSERT_TRUE(s.error.ok()) << s.error.to_string();
    if (s.finish_reason == FinishReason::kStop) {
      ++complete;
      EXPECT_TRUE(std::regex_match(s.text, re)) << s.text;
    } else {
      // Cut by max_tokens: a prefix of the language.
      EXPECT_EQ(s.finish_reason, FinishReason::kLength);
      EXPECT_EQ(s.text.front(), '{') << s.text;
    }
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(engine->stats().num_preemptions, 0);
  engine_test::expect_idle(*engine);
}

TEST(EngineStructuredTest, GreedyIsDeterministicAndLogprobsAreMasked) {
  auto engine = make_engine(EngineConfig{});
  SamplingParams p = sampled(1, grammar("root ::= \"ab\" [cd]+"), 6);
  p.temperature = 0.0f;
  p.logprobs = 2;
  RequestResult a = run_request(*engine, kPrompt, p, "a");
  RequestResult b = run_request(*engine, kPrompt, p, "b");
  EXPECT_EQ(a.seqs[0].tokens, b.seqs[0].tokens);
  ASSERT_FALSE(a.seqs[0].logprobs.empty());
  // vLLM applies the grammar bitmask to the logits before its sampler: logprobs are of the masked logits, so
  // every alternative offered is itself allowed.
  for (const TokenLogprobs& lp : a.seqs[0].logprobs) {
    for (const auto& [token, logprob] : lp.top) {
      if (std::isinf(logprob) || token == engine->tokenizer().eos_id()) continue;  // EOS: where it may end
      const std::string piece = engine->tokenizer().decode(std::vector<int32_t>{token}, false);
      EXPECT_TRUE(piece.find_first_not_of("abcd") == std::string::npos) << piece;
    }
  }
}

TEST(EngineStructuredTest, AbortFreesGrammarState) {
  auto engine = make_engine(EngineConfig{});
  Collector collector;
  GenerationRequest req{"long", kPrompt, sampled(7, grammar("root ::= [a-z ]*"), 400)};
  ASSERT_TRUE(engine->submit(std::move(req), collector.callback("long", 1)).ok());
  engine->abort("long");
  ASSERT_TRUE(collector.wait("long"));
  EXPECT_EQ(collector.get("long").seqs[0].finish_reason, FinishReason::kAbort);
  engine_test::expect_idle(*engine);
  EXPECT_EQ(engine->stats().grammar_matchers, 0);
  EXPECT_EQ(engine->stats().num_waiting_for_grammar, 0);
}

TEST(EngineStructuredTest, FailingGrammarFinishesWithError) {
  auto engine = make_engine(EngineConfig{});
  RequestResult r;
  {
    Collector collector;
    SamplingParams p = sampled(1, grammar("root ::= [a"));
    p.n = 2;
    GenerationRequest req{"bad", kPrompt, p};
    ASSERT_TRUE(engine->submit(std::move(req), collector.callback("bad", 2)).ok());
    ASSERT_TRUE(collector.wait("bad"));
    r = collector.get("bad");
  }
  ASSERT_EQ(r.seqs.size(), 2u);
  EXPECT_EQ(r.seqs[0].finish_reason, FinishReason::kError);
  EXPECT_NE(r.seqs[0].error.message().find("Invalid grammar specification"), std::string::npos);
  engine_test::expect_idle(*engine);
}

/// Reasoning ends once the output holds `n` tokens; the n-th token itself is not grammar output.
class AfterTokens : public ReasoningEndDetector {
 public:
  AfterTokens(size_t prompt, size_t n) : end_(prompt + n) {}
  bool is_reasoning_end(std::span<const int32_t> ids) const override { return ids.size() >= end_; }

 private:
  size_t end_;
};

TEST(EngineStructuredTest, MaskingStartsAfterReasoning) {
  auto engine = make_engine(EngineConfig{});
  for (uint64_t seed = 0; seed < 5; ++seed) {
    SamplingParams p = sampled(seed, grammar("root ::= \"xyz\""), 30);
    p.reasoning_end = std::make_shared<AfterTokens>(kPrompt.size(), 4);
    RequestResult r = run_request(*engine, kPrompt, p, "r" + std::to_string(seed));
    const auto& tokens = r.seqs[0].tokens;
    ASSERT_GT(tokens.size(), 4u);
    const std::vector<int32_t> after(tokens.begin() + 4, tokens.end() - 1);  // without EOS
    EXPECT_EQ(engine->tokenizer().decode(after, false), "xyz");
    EXPECT_EQ(r.seqs[0].finish_reason, FinishReason::kStop);
  }
}

}  // namespace
}  // namespace podserve
