// LORA_MODULES / --lora-modules in every form the vLLM worker (G1: a JSON list or object) and `vllm serve` (G2:
// name=path or a JSON object per item) accept, and the LoRA settings' checks with vLLM's messages.
#include <gtest/gtest.h>

#include <map>

#include "serve/config.h"
#include "serve/lora_config.h"
#include "test_util.h"

namespace podserve {
namespace {

Result<ServerConfig> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_server_config(args, testing::env_of(std::move(env)));
}

void expect_specs(const std::vector<LoraModuleSpec>& got, const std::vector<LoraModuleSpec>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << i;
    EXPECT_EQ(got[i].path, want[i].path) << i;
    EXPECT_EQ(got[i].base_model_name, want[i].base_model_name) << i;
  }
}

TEST(LoraModules, EveryFormTheWorkerAndVllmServeAccept) {
  auto list = parse_lora_modules(R"([{"name": "a", "path": "/p/a", "base_model_name": "m"}, {"name": "b", "path": "/p/b"}])",
                                 "LORA_MODULES");
  ASSERT_TRUE(list.ok()) << list.status().to_string();
  expect_specs(*list, {{"a", "/p/a", "m"}, {"b", "/p/b", ""}});
  auto object = parse_lora_modules(R"({"name": "a", "path": "/p/a"})", "LORA_MODULES");
  ASSERT_TRUE(object.ok());
  expect_specs(*object, {{"a", "/p/a", ""}});
  auto mixed = parse_lora_modules("a=/p/a {\"name\": \"b\", \"path\": \"/p/{b}\"}  c=/p/c", "LORA_MODULES");
  ASSERT_TRUE(mixed.ok()) << mixed.status().to_string();
  expect_specs(*mixed, {{"a", "/p/a", ""}, {"b", "/p/{b}", ""}, {"c", "/p/c", ""}});
}

TEST(LoraModules, BadItemsAreErrors) {
  auto unknown = parse_lora_modules(R"({"name": "a", "path": "/p", "rank": 8})", "LORA_MODULES");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("Invalid fields for LORA_MODULES: rank"), std::string::npos);
  EXPECT_FALSE(parse_lora_modules(R"({"name": "a"})", "LORA_MODULES").ok());
  EXPECT_FALSE(parse_lora_modules(R"([{"name": "a", "path": "/p"}, 3])", "LORA_MODULES").ok());
  EXPECT_FALSE(parse_lora_modules("{\"name\": ", "LORA_MODULES").ok());
  EXPECT_FALSE(parse_lora_modules("just-a-path", "LORA_MODULES").ok());
}

TEST(LoraSettings, FlagsAndVariables) {
  auto c = parse({"--enable-lora", "--lora-modules", "a=/p/a", "b=/p/b", "--max-loras", "2", "--max-lora-rank", "32"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->enable_lora);
  expect_specs(c->lora_modules, {{"a", "/p/a", ""}, {"b", "/p/b", ""}});
  EXPECT_EQ(c->max_loras, 2);
  EXPECT_EQ(c->max_lora_rank, 32);
  auto env = parse({}, {{"ENABLE_LORA", "true"}, {"LORA_MODULES", R"([{"name":"a","path":"/p/a"}])"},
                        {"MAX_CPU_LORAS", "4"}, {"LORA_DTYPE", "bfloat16"}});
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  expect_specs(env->lora_modules, {{"a", "/p/a", ""}});
  EXPECT_EQ(env->max_cpu_loras, 4);

  auto rank = parse({}, {{"MAX_LORA_RANK", "4"}});
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.status().message().find("1, 8, 16, 32, 64, 128, 256, 320, 512"), std::string::npos);
  auto cpu = parse({}, {{"MAX_LORAS", "4"}, {"MAX_CPU_LORAS", "2"}});
  ASSERT_FALSE(cpu.ok());
  EXPECT_EQ(cpu.status().message(), "max_cpu_loras (2) must be >= max_loras (4).");
  EXPECT_FALSE(parse({}, {{"LORA_DTYPE", "float32"}}).ok());
  EXPECT_FALSE(parse({}, {{"LORA_MODULES", "a=/p"}}).ok());  // without ENABLE_LORA
}

// vLLM's FilesystemResolver rules: a LoRA config whose base is --model as given; nothing outside the directory.
TEST(LoraResolver, AcceptsWhatVllmsFilesystemResolverAccepts) {
  const std::string lora = testing::test_data_dir() + "/lora";
  const std::string base = "tests/data/tiny_models/smollm2/f32";  // alpha's base_model_name_or_path
  std::string dir;
  EXPECT_TRUE(resolver_accepts(lora, "alpha", base, &dir));
  EXPECT_EQ(dir, lora + "/alpha");
  EXPECT_FALSE(resolver_accepts(lora, "alpha", "another/model", &dir));
  EXPECT_FALSE(resolver_accepts(lora, "missing", base, &dir));
  EXPECT_FALSE(resolver_accepts(lora, "", base, &dir));
  EXPECT_FALSE(resolver_accepts(lora + "/families", "../alpha", base, &dir));
  EXPECT_FALSE(resolver_accepts(lora, lora + "/alpha", base, &dir));  // absolute
}

TEST(LoraResolver, DirectoryOnlyWhenThePluginLoads) {
  const std::string lora = testing::test_data_dir() + "/lora";
  EXPECT_EQ(lora_resolver_dir(std::nullopt, lora, "").value(), lora);
  EXPECT_EQ(lora_resolver_dir(std::string("x, lora_filesystem_resolver"), lora, "").value(), lora);
  EXPECT_EQ(lora_resolver_dir(std::string("lora_hf_hub_resolver"), lora, "org/repo").value(), "");
  EXPECT_EQ(lora_resolver_dir(std::nullopt, "", "").value(), "");
  auto bad = lora_resolver_dir(std::nullopt, lora + "/alpha/adapter_config.json", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("VLLM_LORA_RESOLVER_CACHE_DIR must be set to a valid directory"),
            std::string::npos);
}

}  // namespace
}  // namespace podserve
