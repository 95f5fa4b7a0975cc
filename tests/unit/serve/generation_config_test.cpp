// GENERATION_CONFIG's sampling defaults against tests/data/generation_configs/expected.json, which
// tools/goldens/generation_configs.py makes with transformers' GenerationConfig.to_diff_dict() and checks against
// vLLM 0.32's own ModelConfig.get_diff_sampling_param.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <string>

#include "serve/generation_config.h"
#include "serve/openai/protocol.h"
#include "test_util.h"

namespace podserve {
namespace {
namespace json = boost::json;

std::string case_dir(const std::string& name) {
  return ::podserve::testing::test_data_dir() + "/generation_configs/" + name;
}

json::object expected_cases() {
  return json::parse(::podserve::testing::read_file(case_dir("expected.json"))).as_object();
}

template <typename T>
void expect_value(const json::object& want, const char* key, const std::optional<T>& got) {
  const json::value* v = want.if_contains(key);
  if (v == nullptr) {
    EXPECT_FALSE(got.has_value()) << key;
    return;
  }
  ASSERT_TRUE(got.has_value()) << key;
  EXPECT_FLOAT_EQ(static_cast<double>(*got), v->to_number<double>()) << key;
}

TEST(GenerationConfigTest, DefaultsAreVllms) {
  const json::object cases = expected_cases();
  ASSERT_GE(cases.size(), 7u);
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(std::string(name));
    const json::object& c = value.as_object();
    const std::string override_json = json::serialize(c.at("override"));
    Result<GenerationDefaults> d = load_generation_defaults(case_dir(name), override_json, "");
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    const json::object& want = c.at("defaults").as_object();
    for (const char* key : {"repetition_penalty", "presence_penalty", "frequency_penalty", "temperature", "top_p",
                            "min_p"}) {
      const GenerationDefaults& g = d.value();
      const std::string k = key;
      const std::optional<float>& got = k == "repetition_penalty" ? g.repetition_penalty
                                        : k == "presence_penalty" ? g.presence_penalty
                                        : k == "frequency_penalty" ? g.frequency_penalty
                                        : k == "temperature"       ? g.temperature
                                        : k == "top_p"             ? g.top_p
                                                                   : g.min_p;
      expect_value(want, key, got);
    }
    expect_value(want, "top_k", d.value().top_k);
    expect_value(want, "max_tokens", d.value().max_tokens);
    EXPECT_EQ(d.value().log_dict, want.empty() ? "" : std::string(c.at("log").as_string()));
    // A folder's max_new_tokens caps every request (vLLM's override_max_tokens).
    EXPECT_EQ(d.value().max_tokens_cap, d.value().max_tokens);
    // The file's EOS ids, as vLLM's update_from_generation_config adds them to stop_token_ids.
    std::vector<int32_t> eos;
    for (const json::value& id : c.at("eos_token_ids").as_array()) eos.push_back(static_cast<int32_t>(id.as_int64()));
    EXPECT_EQ(d.value().eos_token_ids, eos);
  }
}

TEST(GenerationConfigTest, EosIdsCountUnderEveryMode) {
  const json::object cases = expected_cases();
  const json::array& want = cases.at("llama3").at("eos_token_ids").as_array();
  ASSERT_EQ(want.size(), 2u);
  // vllm drops the file's sampling keys, not its EOS ids (vLLM reads generation_config_fields under every mode).
  for (const char* mode : {"auto", "vllm"}) {
    Result<GenerationDefaults> d = load_generation_defaults(mode, "", case_dir("llama3"));
    ASSERT_TRUE(d.ok()) << mode;
    ASSERT_EQ(d.value().eos_token_ids.size(), 2u) << mode;
    EXPECT_EQ(d.value().eos_token_ids[1], want[1].as_int64()) << mode;
  }
  // Without generation_config.json, config.json's eos_token_id (GenerationConfig.from_model_config).
  const std::string tiny = ::podserve::testing::test_data_dir() + "/tiny_models/llama/f32";
  Result<GenerationDefaults> d = load_generation_defaults("auto", "", case_dir("no_such_case"));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d.value().eos_token_ids.empty());
  const std::filesystem::path only_config = std::filesystem::path(::testing::TempDir()) / "eos_from_config_json";
  std::filesystem::create_directories(only_config);
  std::filesystem::copy_file(tiny + "/config.json", only_config / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const json::value model_eos = json::parse(::podserve::testing::read_file(tiny + "/config.json")).at("eos_token_id");
  d = load_generation_defaults("vllm", "", only_config.string());
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d.value().eos_token_ids.size(), 1u);
  EXPECT_EQ(d.value().eos_token_ids[0], model_eos.as_int64());
  // A GGUF file has no folder of its own to read.
  d = load_generation_defaults("auto", "", ::podserve::testing::model_path());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d.value().eos_token_ids.empty());
}

TEST(GenerationConfigTest, AutoReadsTheModelDirectoryAndCapsOnlyFromTheOverride) {
  Result<GenerationDefaults> d = load_generation_defaults("auto", "", case_dir("greedy_short"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().temperature, 0.0f);
  EXPECT_EQ(d.value().max_tokens, 5);
  EXPECT_FALSE(d.value().max_tokens_cap.has_value());  // auto: max_new_tokens is a fallback only
  d = load_generation_defaults("auto", R"({"max_new_tokens": 9})", case_dir("greedy_short"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().max_tokens_cap, 9);
  // vllm: the file is not read, only the override counts.
  d = load_generation_defaults("vllm", R"({"top_p": 0.5})", case_dir("greedy_short"));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value().temperature.has_value());
  EXPECT_EQ(d.value().top_p, 0.5f);
  // A GGUF file has no generation_config.json beside it to read.
  d = load_generation_defaults("auto", "", ::podserve::testing::model_path());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d.value().log_dict.empty());
}

TEST(GenerationConfigTest, BadValuesNameTheVariable) {
  for (const char* bad : {R"({"temperature": -1})", R"({"top_p": 0})", R"({"top_k": 1.5})", R"({"min_p": 2})",
                          R"({"max_new_tokens": 0})", R"({"presence_penalty": "high"})", "[1]"}) {
    Result<GenerationDefaults> d = load_generation_defaults("vllm", bad, "");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("OVERRIDE_GENERATION_CONFIG"), std::string::npos) << d.status().message();
  }
}

TEST(GenerationConfigTest, RequestFieldsWinOverDefaults) {
  Result<GenerationDefaults> d = load_generation_defaults(case_dir("penalties"), R"({"temperature": 0.25})", "");
  ASSERT_TRUE(d.ok());
  SamplingParams defaults;
  d.value().apply_to(&defaults);
  auto r = openai::parse_completion_request(R"({"prompt": "hi", "top_k": 3})", defaults);
  ASSERT_TRUE(r.ok());
  const SamplingParams& s = r.value().common.sampling;
  EXPECT_EQ(s.top_k, 3);                    // the request's
  EXPECT_FLOAT_EQ(s.temperature, 0.25f);    // the override's
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);  // the file's
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_FLOAT_EQ(s.top_p, 1.0f);  // vLLM's own default
}

}  // namespace
}  // namespace podserve
