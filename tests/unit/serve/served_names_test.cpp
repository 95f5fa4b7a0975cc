// `--served-model-name` takes several names (vLLM: nargs='+'); the environment variable gives one.
#include <gtest/gtest.h>

#include <map>

#include "serve/config.h"

namespace podserve {
namespace {

Result<ServerConfig> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  EnvLookup lookup = [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parse_server_config(args, lookup);
}

TEST(ServedModelNamesTest, SeveralNamesFirstReported) {
  Result<ServerConfig> c = parse({"--model", "m.gguf", "--served-model-name", "a", "b", "c", "--port", "9000"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->served_model_name, "a");
  EXPECT_EQ(c->served_model_aliases, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(c->port, 9000);
}

TEST(ServedModelNamesTest, OneNameAndLastFlagWins) {
  Result<ServerConfig> c = parse({"--model", "m.gguf", "--served-model-name=x"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->served_model_name, "x");
  EXPECT_TRUE(c->served_model_aliases.empty());
  c = parse({"--model", "m.gguf", "--served-model-name", "a", "b", "--served-model-name", "z"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->served_model_name, "z");
  EXPECT_TRUE(c->served_model_aliases.empty());
}

TEST(ServedModelNamesTest, EnvironmentGivesOneName) {
  Result<ServerConfig> c = parse({"--model", "m.gguf"}, {{"OPENAI_SERVED_MODEL_NAME_OVERRIDE", "env name"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->served_model_name, "env name");
  EXPECT_TRUE(c->served_model_aliases.empty());
}

}  // namespace
}  // namespace podserve
