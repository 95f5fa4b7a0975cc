// The vLLM worker's variables beyond the option table (vllm_variables.h), the config file and VLLM_EXTRA_ARGS:
// each variable is implemented, warned about or refused, as the worker's tables in the reference say
// (tests/e2e/test_env_table.py checks the list against the reference itself).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "serve/config.h"
#include "serve/config_file.h"
#include "serve/vllm_variables.h"
#include "test_util.h"

namespace podserve {
namespace {

using testing::env_of;

Result<ServerConfig> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                           std::vector<std::string> names = {}) {
  return parse_server_config(args, env_of(std::move(env)), names);
}

std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  Result<ServerConfig> r = parse(std::move(args), std::move(env));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

std::vector<std::string> warnings_of(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                                     std::vector<std::string> names = {}) {
  Result<ServerConfig> r = parse(std::move(args), std::move(env), std::move(names));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->warnings : std::vector<std::string>{};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(VllmSurfaceTest, RefusedUnlessNeutral) {
  std::string e = error_of({}, {{"TENSOR_PARALLEL_SIZE", "2"}});
  EXPECT_TRUE(contains(e, "TENSOR_PARALLEL_SIZE=2 is not supported by podserve")) << e;
  EXPECT_TRUE(contains(e, "allowed: 1")) << e;
  EXPECT_TRUE(warnings_of({}, {{"TENSOR_PARALLEL_SIZE", "1"}}).empty());
  e = error_of({"--tensor-parallel-size", "4"});
  EXPECT_TRUE(contains(e, "--tensor-parallel-size=4 is not supported")) << e;
  e = error_of({}, {{"LORA_MODULES", "a=/x"}});  // adapters without ENABLE_LORA would be ignored
  EXPECT_TRUE(contains(e, "needs ENABLE_LORA=true")) << e;
  EXPECT_TRUE(warnings_of({}, {{"ENABLE_LORA", "False"}}).empty());
  e = error_of({}, {{"SSL_KEYFILE", "/k.pem"}});
  EXPECT_TRUE(contains(e, "leave it unset")) << e;
  e = error_of({}, {{"ENABLE_SLEEP_MODE", "1"}});
  EXPECT_TRUE(contains(e, "Sleep mode is not supported on current platform.")) << e;
}

TEST(VllmSurfaceTest, WarnedWithTheReason) {
  std::vector<std::string> w = warnings_of({}, {{"TRUST_REMOTE_CODE", "true"}, {"SWAP_SPACE", "8"}});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(contains(w[0], "TRUST_REMOTE_CODE=true has no effect in podserve: podserve runs no model code")) << w[0];
  EXPECT_TRUE(contains(w[1], "SWAP_SPACE=8 has no effect")) << w[1];
  // vLLM's defaults change nothing: no warning (the worker's hub sets many of them on every endpoint).
  EXPECT_TRUE(warnings_of({}, {{"TRUST_REMOTE_CODE", "false"},
                               {"DISTRIBUTED_EXECUTOR_BACKEND", "mp"},
                               {"GPU_MEMORY_UTILIZATION", "0.95"},
                               {"ENFORCE_EAGER", "false"},
                               {"MAX_LORA_RANK", "16"}})
                  .empty());
  w = warnings_of({"--trust-remote-code"});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "--trust-remote-code=true")) << w[0];
  EXPECT_TRUE(warnings_of({"--no-trust-remote-code"}, {{"TRUST_REMOTE_CODE", "true"}}).empty());  // flag wins
}

TEST(VllmSurfaceTest, InvalidValuesNameTheVariableAndTheAllowedValues) {
  std::string e = error_of({}, {{"SWAP_SPACE", "lots"}});
  EXPECT_TRUE(contains(e, "'lots' for SWAP_SPACE: expected a number")) << e;
  e = error_of({}, {{"TRUST_REMOTE_CODE", "maybe"}});
  EXPECT_TRUE(contains(e, "TRUST_REMOTE_CODE: expected true, false")) << e;
  e = error_of({}, {{"DISTRIBUTED_EXECUTOR_BACKEND", "mpi"}});
  EXPECT_TRUE(contains(e, "one of ray,mp,uni,external_launcher")) << e;
  e = error_of({}, {{"HF_OVERRIDES", "{rope"}});
  EXPECT_TRUE(contains(e, "HF_OVERRIDES: expected a JSON value")) << e;
  e = error_of({}, {{"QUANTIZATION", "awq"}});
  EXPECT_TRUE(contains(e, "QUANTIZATION=awq is not supported by podserve")) << e;
  e = error_of({}, {{"GENERATION_CONFIG", "/no/such/folder"}});
  EXPECT_TRUE(contains(e, "auto, vllm or a folder")) << e;
  e = error_of({}, {{"OVERRIDE_GENERATION_CONFIG", "[1]"}});
  EXPECT_TRUE(contains(e, "OVERRIDE_GENERATION_CONFIG: expected a JSON object")) << e;
  e = error_of({}, {{"SCHEDULING_POLICY", "lifo"}});
  EXPECT_TRUE(contains(e, "fcfs or priority")) << e;
}

TEST(VllmSurfaceTest, ImplementedSettings) {
  Result<ServerConfig> r = parse({}, {{"QUANTIZATION", "None"},
                                      {"GENERATION_CONFIG", "vllm"},
                                      {"OVERRIDE_GENERATION_CONFIG", "{\"temperature\": 0.5}"},
                                      {"RETURN_TOKENS_AS_TOKEN_IDS", "yes"},
                                      {"ENABLE_PROMPT_TOKENS_DETAILS", "on"},
                                      {"ENABLE_FORCE_INCLUDE_USAGE", "true"},
                                      {"SCHEDULING_POLICY", "priority"},
                                      {"DOWNLOAD_DIR", "/models"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->quantization, "");
  EXPECT_EQ(r->generation_config, "vllm");
  EXPECT_EQ(r->override_generation_config, "{\"temperature\": 0.5}");
  EXPECT_TRUE(r->return_tokens_as_token_ids);
  EXPECT_TRUE(r->enable_prompt_tokens_details);
  EXPECT_TRUE(r->enable_force_include_usage);
  EXPECT_TRUE(r->priority_scheduling);
  EXPECT_EQ(r->download_dir, "/models");
  EXPECT_TRUE(r->warnings.empty());
}

TEST(VllmSurfaceTest, FamiliesWarnAboutVariablesNobodyReads) {
  std::vector<std::string> w =
      warnings_of({}, {{"VLLM_USE_V1", "1"}, {"VLLM_API_KEY", "k"}, {"RAY_ADDRESS", "x"}, {"PATH", "/bin"}},
                  {"VLLM_USE_V1", "VLLM_API_KEY", "RAY_ADDRESS", "PATH"});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(contains(w[0], "VLLM_USE_V1 has no effect in podserve")) << w[0];
  EXPECT_TRUE(contains(w[1], "RAY_ADDRESS has no effect")) << w[1];
}

TEST(VllmSurfaceTest, ExtraArgsComeBeforeTheCommandLine) {
  Result<ServerConfig> r =
      parse({}, {{"VLLM_EXTRA_ARGS", "--max-model-len 300 --served-model-name 'my model' other --seed=\"7\""}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_model_len, 300);
  EXPECT_EQ(r->served_model_name, "my model");
  EXPECT_EQ(r->served_model_aliases, std::vector<std::string>{"other"});
  EXPECT_EQ(r->seed, 7u);
  r = parse({"--max-model-len", "400"}, {{"VLLM_EXTRA_ARGS", "--max-model-len 300"}, {"MAX_MODEL_LEN", "200"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_model_len, 400);
  std::string e = error_of({}, {{"VLLM_EXTRA_ARGS", "--seed 'unterminated"}});
  EXPECT_TRUE(contains(e, "VLLM_EXTRA_ARGS: unterminated quote")) << e;
}

class ConfigFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() / ("podserve-config-" + std::to_string(getpid()) + ".yaml");
    std::ofstream(path_) << text;
    return path_.string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(ConfigFileTest, FileBelowEnvironmentBelowFlags) {
  const std::string path = write(
      "# a vllm serve config\n"
      "max-model-len: 512\n"
      "max_num_seqs: 8   # underscores too\n"
      "served-model-name:\n"
      "  - first\n"
      "  - 'second'\n"
      "trust-remote-code: true\n"
      "seed: \"11\"\n");
  Result<ServerConfig> r = parse({}, {{"VLLM_CONFIG_FILE", path}, {"MAX_NUM_SEQS", "4"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_model_len, 512);
  EXPECT_EQ(r->max_num_seqs, 4);  // the environment wins over the file
  EXPECT_EQ(r->served_model_name, "first");
  EXPECT_EQ(r->served_model_aliases, std::vector<std::string>{"second"});
  EXPECT_EQ(r->seed, 11u);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(contains(r->warnings[0], "config file key 'trust-remote-code'=true has no effect")) << r->warnings[0];
  r = parse({"--config", path, "--max-model-len", "100"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_model_len, 100);
  EXPECT_EQ(r->max_num_seqs, 8);
}

TEST_F(ConfigFileTest, Errors) {
  std::string e = error_of({"--config", write("frobnicate: 1\n")});
  EXPECT_TRUE(contains(e, "unknown key 'frobnicate'")) << e;
  e = error_of({"--config", write("tensor-parallel-size: [2]\n")});
  EXPECT_TRUE(contains(e, "config file key 'tensor-parallel-size'=2 is not supported")) << e;
  e = error_of({"--config", write("max-model-len: 1\n  nested: 2\n")});
  EXPECT_TRUE(contains(e, "line 2: nested mappings")) << e;
  e = error_of({"--config", "/no/such/config.yaml"});
  EXPECT_TRUE(contains(e, "cannot open the config file '/no/such/config.yaml'")) << e;
}

TEST(ConfigFileParseTest, Forms) {
  Result<std::vector<ConfigFileEntry>> r = parse_config_file(
      "---\nmodel: org/name  # comment\nchat-template: \"{{ x }} # kept\"\napi_key: ['a', \"b,c\"]\nx: 'it''s'\n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].flag, "--model");
  EXPECT_EQ((*r)[0].value, "org/name");
  EXPECT_EQ((*r)[1].value, "{{ x }} # kept");
  EXPECT_EQ((*r)[2].flag, "--api-key");
  EXPECT_EQ((*r)[2].value, "a");
  EXPECT_EQ((*r)[3].value, "b,c");
  EXPECT_EQ((*r)[4].value, "it's");
  EXPECT_FALSE(parse_config_file("- orphan\n").ok());
  EXPECT_FALSE(parse_config_file("key 'no colon'\n").ok());
  EXPECT_FALSE(parse_config_file("k: 'open\n").ok());
}

TEST(VllmSurfaceTest, TableIsConsistent) {
  std::set<std::string_view> seen;
  for (const VariableRule& rule : vllm_variable_rules()) {
    EXPECT_TRUE(seen.insert(rule.env).second) << "listed twice: " << rule.env;
    EXPECT_FALSE(rule.why.empty()) << rule.env;
    if (rule.kind == ValueKind::kChoice) {
      EXPECT_FALSE(rule.choices.empty()) << rule.env;
    }
    if (rule.env.back() == '*' || rule.neutral.empty()) continue;
    // Every neutral value is valid and passes silently.
    std::string_view list = rule.neutral;
    const std::string first(list.substr(0, list.find('|')));
    std::vector<std::string> warnings;
    Status st = apply_rule(rule, first, std::string(rule.env), &warnings);
    EXPECT_TRUE(st.ok()) << rule.env << ": " << st.message();
    EXPECT_TRUE(warnings.empty()) << rule.env;
  }
}

}  // namespace
}  // namespace podserve
