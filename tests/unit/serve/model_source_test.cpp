// `--model` as a Hub repo id: the flags/env that qualify it, and resolution through the Hugging Face cache without
// network (a local path as is; an uncached repo while HF_HUB_OFFLINE=1 is a clear error). Downloads themselves are
// tested in tests/hub against a stand-in Hub and the real huggingface_hub.
#include "serve/model_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "test_util.h"

namespace podserve {
namespace {

using testing::env_of;

TEST(ModelSource, HubFlagsAndTheWorkersVariables) {
  auto env = env_of({{"MODEL_NAME", "org/name"}, {"MODEL_REVISION", "v1"}, {"TOKENIZER_NAME", "org/tok"},
                     {"TOKENIZER_REVISION", "t1"}});
  Result<ServerConfig> c = parse_server_config(std::vector<std::string>{"--gguf-file", "m-Q4_0.gguf"}, env);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->model, "org/name");
  EXPECT_EQ(c->served_model_name, "org/name");
  EXPECT_EQ(c->revision, "v1");
  EXPECT_EQ(c->gguf_file, "m-Q4_0.gguf");
  EXPECT_EQ(c->tokenizer, "org/tok");
  EXPECT_EQ(c->tokenizer_revision, "t1");
  c = parse_server_config(std::vector<std::string>{"--revision", "main", "org/x"}, env);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision, "main");  // the flag wins
}

TEST(ModelSource, LocalPathAsIsAndOfflineMissIsClear) {
  ServerConfig config;
  config.model = podserve::testing::test_data_dir() + "/tiny-llama.gguf";
  const std::string cache = ::testing::TempDir() + "/empty-hf-cache-" + std::to_string(::getpid());
  Result<ModelSource> local = resolve_model_source(config, env_of({{"HF_HUB_CACHE", cache}}));
  ASSERT_TRUE(local.ok()) << local.status().to_string();
  EXPECT_EQ(local->model_path, config.model);

  config.model = "org/not-cached";
  Result<ModelSource> miss =
      resolve_model_source(config, env_of({{"HF_HUB_CACHE", cache}, {"HF_HUB_OFFLINE", "1"}}));
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.status().code(), StatusCode::kNotFound);
  EXPECT_NE(miss.status().message().find("HF_HUB_OFFLINE"), std::string::npos);
  EXPECT_NE(miss.status().message().find(cache), std::string::npos);

  config.model = "/no/such/file.gguf";
  EXPECT_EQ(resolve_model_source(config, env_of({})).status().code(), StatusCode::kNotFound);
  config.model = "not a repo";
  EXPECT_EQ(resolve_model_source(config, env_of({})).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace podserve
