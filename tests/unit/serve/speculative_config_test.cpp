// SPECULATIVE_CONFIG against vLLM 0.32.0's own SpeculativeConfig (tests/data/speculative_config.json, written by
// tools/goldens/speculative_config.py): the same resolved settings, or vLLM's validation message. Then the G1
// worker's per-field variables, and podserve's refusals of the methods it does not run.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "serve/config.h"
#include "serve/speculative_config.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

TEST(SpeculativeConfigTest, MatchesVllmOnEveryGoldenCase) {
  const json::value goldens = json::parse(testing::read_file(testing::test_data_dir() + "/speculative_config.json"));
  const json::array& cases = goldens.at("cases").as_array();
  ASSERT_GE(cases.size(), 25u);
  for (const json::value& c : cases) {
    const std::string text = json::serialize(c.at("config"));
    std::vector<std::string> warnings;
    Result<SpeculativeConfig> got = parse_speculative_config(text, "SPECULATIVE_CONFIG", &warnings);
    if (const json::value* error = c.as_object().if_contains("error")) {
      ASSERT_FALSE(got.ok()) << text;
      const std::string message = got.status().message();
      EXPECT_NE(message.find(std::string(error->as_string())), std::string::npos) << text << "\n" << message;
      const std::string field(c.at("error_field").as_string());
      if (!field.empty()) {
        EXPECT_NE(message.find(field + ": "), std::string::npos) << message;
      }
      EXPECT_NE(message.find("SPECULATIVE_CONFIG"), std::string::npos) << message;
      continue;
    }
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().to_string();
    EXPECT_EQ(c.at("method").as_string(), "ngram");
    EXPECT_EQ(got->method, SpeculativeMethod::kNgram);
    EXPECT_EQ(got->num_speculative_tokens, c.at("num_speculative_tokens").as_int64()) << text;
    EXPECT_EQ(got->prompt_lookup_min, c.at("prompt_lookup_min").as_int64()) << text;
    EXPECT_EQ(got->prompt_lookup_max, c.at("prompt_lookup_max").as_int64()) << text;
  }
}

TEST(SpeculativeConfigTest, RefusesTheMethodsPodserveDoesNotRun) {
  for (const char* text : {R"({"method": "eagle3", "model": "org/eagle3-head", "num_speculative_tokens": 3})",
                           R"({"model": "yuhuili/EAGLE-LLaMA3-Instruct-8B", "num_speculative_tokens": 3})",
                           R"({"method": "medusa", "model": "m", "num_speculative_tokens": 2})",
                           R"({"method": "mtp", "num_speculative_tokens": 1})",
                           R"({"method": "suffix"})"}) {
    Result<SpeculativeConfig> got = parse_speculative_config(text, "SPECULATIVE_CONFIG", nullptr);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_NE(got.status().message().find("is not supported by podserve"), std::string::npos) << got.status().message();
  }
  Result<SpeculativeConfig> draft = parse_speculative_config(
      R"({"model": "/models/draft.gguf", "num_speculative_tokens": 4})", "--speculative-config", nullptr);
  ASSERT_TRUE(draft.ok()) << draft.status().to_string();
  EXPECT_EQ(draft->method, SpeculativeMethod::kDraftModel);
  EXPECT_EQ(draft->draft_model, "/models/draft.gguf");
  EXPECT_EQ(draft->num_speculative_tokens, 4);
  draft = parse_speculative_config(R"({"method": "draft_model", "model": "org/small"})", "SPECULATIVE_CONFIG", nullptr);
  ASSERT_FALSE(draft.ok());
  EXPECT_NE(draft.status().message().find("`num_speculative_tokens` was not provided"), std::string::npos);
  for (const char* bad : {"", "[1]", "{", "3", "null"}) {
    EXPECT_FALSE(parse_speculative_config(bad, "SPECULATIVE_CONFIG", nullptr).ok()) << bad;
  }
}

TEST(SpeculativeConfigTest, UnusedKnownKeysWarn) {
  std::vector<std::string> warnings;
  ASSERT_TRUE(parse_speculative_config(R"({"method": "ngram", "num_speculative_tokens": 2, "quantization": "fp8"})",
                                       "SPECULATIVE_CONFIG", &warnings)
                  .ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("quantization"), std::string::npos);
}

Result<ServerConfig> parse_env(std::map<std::string, std::string> vars, std::vector<std::string> args = {}) {
  EnvLookup env = [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return parse_server_config(args, env);
}

// The G1 worker's get_speculative_config (worker-vllm src/engine_args.py): SPECULATIVE_CONFIG wins; otherwise the
// per-field variables, 0 meaning unset, the method guessed from what is set.
TEST(SpeculativeConfigTest, G1VariablesAssembleTheConfig) {
  Result<ServerConfig> c = parse_env({{"NGRAM_PROMPT_LOOKUP_MAX", "4"}, {"NUM_SPECULATIVE_TOKENS", "3"}});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->speculative.method, SpeculativeMethod::kNgram);
  EXPECT_EQ(c->speculative.num_speculative_tokens, 3);
  EXPECT_EQ(c->speculative.prompt_lookup_max, 4);
  EXPECT_EQ(c->speculative.prompt_lookup_min, 4);

  c = parse_env({{"SPECULATIVE_METHOD", "ngram"}, {"NUM_SPECULATIVE_TOKENS", "2"}, {"NGRAM_PROMPT_LOOKUP_MAX", "0"},
                 {"NGRAM_PROMPT_LOOKUP_MIN", "0"}, {"SPECULATIVE_DRAFT_TENSOR_PARALLEL_SIZE", "1"}});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->speculative.prompt_lookup_max, 5);  // vLLM's defaults: 0 was unset
  EXPECT_EQ(c->speculative.num_speculative_tokens, 2);

  // Only the hub's zero defaults: no speculative decoding.
  c = parse_env({{"NUM_SPECULATIVE_TOKENS", "0"}, {"NGRAM_PROMPT_LOOKUP_MAX", "0"}, {"NGRAM_PROMPT_LOOKUP_MIN", "0"}});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->speculative.enabled());

  // SPECULATIVE_CONFIG wins over the fields; the flag wins over the variable.
  c = parse_env({{"SPECULATIVE_CONFIG", R"({"method": "ngram", "num_speculative_tokens": 6})"},
                 {"SPECULATIVE_METHOD", "eagle"}});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->speculative.num_speculative_tokens, 6);
  c = parse_env({{"SPECULATIVE_CONFIG", R"({"method": "ngram", "num_speculative_tokens": 6})"}},
                {"--speculative-config", R"({"method": "ngram", "num_speculative_tokens": 1})"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->speculative.num_speculative_tokens, 1);

  // A model name chooses the method as the worker does: a plain name is a draft model, eagle is refused at
  // start-up, naming it.
  c = parse_env({{"SPECULATIVE_MODEL", "/models/small.gguf"}, {"NUM_SPECULATIVE_TOKENS", "3"}});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->speculative.method, SpeculativeMethod::kDraftModel);
  EXPECT_EQ(c->speculative.draft_model, "/models/small.gguf");
  c = parse_env({{"SPECULATIVE_MODEL", "yuhuili/EAGLE-LLaMA3-Instruct-8B"}, {"NUM_SPECULATIVE_TOKENS", "3"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'eagle'"), std::string::npos) << c.status().message();
  // Without a token count the ngram method fails as vLLM does.
  c = parse_env({{"NGRAM_PROMPT_LOOKUP_MAX", "4"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("num_speculative_tokens must be provided"), std::string::npos);
  c = parse_env({{"NUM_SPECULATIVE_TOKENS", "three"}, {"SPECULATIVE_METHOD", "ngram"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("NUM_SPECULATIVE_TOKENS"), std::string::npos);
  c = parse_env({{"SPECULATIVE_CONFIG", R"({"method": "ngram", "num_speculative_tokens": 2, "bogus": 1})"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bogus: Unexpected keyword argument"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace podserve
