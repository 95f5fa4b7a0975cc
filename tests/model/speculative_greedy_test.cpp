// n-gram speculative decoding on SmolLM2 (the default GGUF) gives byte-identical greedy outputs to plain decoding
// over 100 prompts whose answers quote them (repetitive text, code edits), with every prompt in one continuous
// batch, and the drafts are really accepted (several tokens per step). ~40-70 s on 2 cores, so not in `make test`
// (label long: `make test-speculative`); the unit tier checks the same on the tiny model in about a second.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/loaded_model.h"
#include "test_util.h"
#include "unit/engine/engine_test_util.h"

namespace podserve {
namespace {

constexpr int kPrompts = 100;
constexpr int kMaxTokens = 24;

std::vector<std::string> prompt_texts() {
  const std::vector<std::string> subjects = {"the red fox", "a small robot", "my old laptop", "the river", "our team",
                                             "the city bus", "a paper plane", "the night sky", "this recipe",
                                             "the garden"};
  const std::vector<std::string> shapes = {
      "Repeat this sentence three times: {} jumps over the fence. ",
      "Copy the list exactly.\n1. {}\n2. {} again\n3. {} once more\nCopy:\n1.",
      "def describe():\n    # {}\n    return \"{}\"\n\n# The same function, renamed:\ndef describe_again():\n",
      "Summary of the text \"{} was seen near the station at noon\": ",
      "Q: What is {}?\nA: {} is",
      "Fix the typo: '{} are running fastt'. Fixed: '",
      "{}, {}, {}, {},",
      "Translate to English: {} -> ",
      "<li>{}</li>\n<li>{}</li>\n<li>",
      "The answer is {}. I repeat: the answer is",
  };
  std::vector<std::string> out;
  for (int i = 0; i < kPrompts; ++i) {
    std::string text = shapes[static_cast<size_t>(i) % shapes.size()];
    const std::string& subject = subjects[static_cast<size_t>(i) / shapes.size()];
    for (size_t at = text.find("{}"); at != std::string::npos; at = text.find("{}", at + subject.size())) {
      text.replace(at, 2, subject);
    }
    out.push_back(text);
  }
  return out;
}

std::vector<std::vector<int32_t>> run(const SpeculativeConfig& spec, EngineStats* stats) {
  LoadOptions options;
  options.show_progress = false;
  Result<std::unique_ptr<LoadedModel>> model = load_model(testing::model_path(), options);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return {};
  const Tokenizer& tokenizer = (*model)->tokenizer();
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& text : prompt_texts()) prompts.push_back(tokenizer.encode(text, false));
  EngineConfig config;
  config.max_model_len = 256;
  config.num_kv_blocks = 2048;
  config.log_stats = false;
  config.speculative = spec;
  std::unique_ptr<LoadedModel> draft;
  if (spec.method == SpeculativeMethod::kDraftModel) {
    Result<std::unique_ptr<LoadedModel>> loaded = load_model(spec.draft_model, options);
    EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
    if (!loaded.ok()) return {};
    draft = std::move(*loaded);
  }
  Result<std::unique_ptr<Engine>> engine = Engine::create(std::move(*model), config, std::move(draft));
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  if (!engine.ok()) return {};
  engine_test::Collector collector;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingParams p;
    p.temperature = 0.0f;
    p.max_tokens = kMaxTokens;
    const std::string id = "p" + std::to_string(i);
    EXPECT_TRUE((*engine)->submit({id, prompts[i], p}, collector.callback(id, 1)).ok());
  }
  EXPECT_TRUE(collector.wait_all());
  std::vector<std::vector<int32_t>> outputs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const engine_test::RequestResult r = collector.get("p" + std::to_string(i));
    EXPECT_EQ(r.finals, 1);
    outputs.push_back(r.seqs.at(0).tokens);
  }
  EXPECT_TRUE((*engine)->audit().ok());
  *stats = (*engine)->stats();
  (*engine)->shutdown();
  return outputs;
}

TEST(SpeculativeGreedyTest, NgramOutputsEqualPlainDecodingOn100Prompts) {
  EngineStats plain_stats, spec_stats;
  const auto plain = run(SpeculativeConfig{}, &plain_stats);
  SpeculativeConfig spec;
  spec.method = SpeculativeMethod::kNgram;
  spec.num_speculative_tokens = 4;
  spec.prompt_lookup_min = 2;
  spec.prompt_lookup_max = 5;
  const auto with_spec = run(spec, &spec_stats);
  ASSERT_EQ(plain.size(), static_cast<size_t>(kPrompts));
  ASSERT_EQ(with_spec.size(), plain.size());
  int identical = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(with_spec[i], plain[i]) << "prompt " << i << ": " << prompt_texts()[i];
    identical += with_spec[i] == plain[i];
  }
  EXPECT_EQ(identical, kPrompts);
  EXPECT_EQ(spec_stats.generation_tokens, plain_stats.generation_tokens);
  // The drafts work: a good share is accepted (measured: 872 of 1321), so steps emit several tokens. (The step
  // count itself stays that of the slowest prompt in the batch.)
  EXPECT_GT(spec_stats.spec_num_drafts, 100);
  EXPECT_GT(spec_stats.spec_num_accepted_tokens, spec_stats.spec_num_draft_tokens / 3);
  std::printf("drafts %lld, draft tokens %lld, accepted %lld\n", static_cast<long long>(spec_stats.spec_num_drafts),
              static_cast<long long>(spec_stats.spec_num_draft_tokens),
              static_cast<long long>(spec_stats.spec_num_accepted_tokens));
}

// The draft-model path on the real model: SmolLM2 drafting for itself (the only GGUF CI fetches), so every greedy
// draft is the target's argmax and all are accepted; outputs must still equal plain decoding's.
TEST(SpeculativeGreedyTest, DraftModelOutputsEqualPlainDecodingOn100Prompts) {
  EngineStats plain_stats, spec_stats;
  const auto plain = run(SpeculativeConfig{}, &plain_stats);
  SpeculativeConfig spec;
  spec.method = SpeculativeMethod::kDraftModel;
  spec.num_speculative_tokens = 3;
  spec.draft_model = testing::model_path();
  const auto with_spec = run(spec, &spec_stats);
  ASSERT_EQ(with_spec.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(with_spec[i], plain[i]) << "prompt " << i;
  EXPECT_GT(spec_stats.spec_num_drafts, 100);
  EXPECT_EQ(spec_stats.spec_num_accepted_tokens, spec_stats.spec_num_draft_tokens);
}

}  // namespace
}  // namespace podserve
