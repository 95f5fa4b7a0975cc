// Loading PEFT adapters: what vLLM refuses is refused with vLLM's message (vllm/lora/peft_helper.py,
// vllm/lora/utils.py), shapes and names are checked, and the weights hash follows the bytes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/hf_config.h"
#include "model/lora.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string alpha_dir() { return testing::test_data_dir() + "/lora/alpha"; }

class LoraAdapterLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = read_hf_config(testing::test_data_dir() + "/tiny_models/smollm2/f32");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    config_ = c->model;
    dir_ = fs::temp_directory_path() / ("podserve_lora_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(alpha_dir(), dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // alpha's adapter_config.json with `key` set to `value` (null erases it).
  void set_config(const std::string& key, json::value value) {
    std::ifstream in(dir_ / "adapter_config.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    json::object o = json::parse(text).as_object();
    if (value.is_null()) o.erase(key);
    else o[key] = value;
    std::ofstream(dir_ / "adapter_config.json") << json::serialize(o);
  }
  std::string error(int max_rank = 16) {
    auto a = load_lora_adapter(dir_.string(), config_, max_rank);
    return a.ok() ? "" : a.status().message();
  }

  ModelConfig config_;
  fs::path dir_;
};

TEST_F(LoraAdapterLoad, LoadsPeftAdapterWithScalingFolded) {
  auto a = load_lora_adapter(alpha_dir(), config_, 16);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)->rank, 8);
  ASSERT_EQ((*a)->layers.size(), 2u);
  EXPECT_EQ((*a)->at(0, LoraModule::kQ).rank, 8);
  EXPECT_EQ((*a)->at(1, LoraModule::kO).rank, 8);
  EXPECT_EQ((*a)->at(0, LoraModule::kGate).rank, 0);  // alpha wraps q/k/v/o only
  EXPECT_EQ((*a)->at(0, LoraModule::kQ).a.size(), 8u * 32);
  EXPECT_EQ((*a)->at(0, LoraModule::kK).b.size(), 64u * 8);
  // Same files, same hash; lora_alpha changed (so B's scaling), another hash.
  auto again = load_lora_adapter(dir_.string(), config_, 16);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->weights_hash[0], (*a)->weights_hash[0]);
  set_config("lora_alpha", 32);
  auto scaled = load_lora_adapter(dir_.string(), config_, 16);
  ASSERT_TRUE(scaled.ok()) << scaled.status().to_string();
  EXPECT_NE((*scaled)->weights_hash[0], (*a)->weights_hash[0]);
  EXPECT_FLOAT_EQ((*scaled)->at(0, LoraModule::kQ).b[3], 2 * (*a)->at(0, LoraModule::kQ).b[3]);
  set_config("use_rslora", true);  // alpha / sqrt(r) instead of alpha / r
  auto rs = load_lora_adapter(dir_.string(), config_, 16);
  ASSERT_TRUE(rs.ok());
  EXPECT_NEAR((*rs)->at(0, LoraModule::kQ).b[3], (*a)->at(0, LoraModule::kQ).b[3] * 2 * std::sqrt(8.0), 1e-5);
}

TEST_F(LoraAdapterLoad, RefusesWhatVllmRefuses) {
  EXPECT_EQ(error(1), "LoRA rank 8 is greater than max_lora_rank 1.");
  set_config("use_dora", true);
  EXPECT_EQ(error(), "vLLM does not yet support DoRA.");
  set_config("use_dora", false);
  set_config("bias", "all");
  EXPECT_EQ(error(), "Adapter bias cannot be used without bias_enabled.");
  set_config("bias", "none");
  set_config("modules_to_save", json::array{"lm_head"});
  EXPECT_EQ(error(1), "vLLM only supports modules_to_save being None. LoRA rank 8 is greater than max_lora_rank 1.");
  set_config("modules_to_save", nullptr);
  set_config("rank_pattern", json::object{{"q_proj", 4}});
  EXPECT_NE(error().find("rank_pattern"), std::string::npos);
  set_config("rank_pattern", nullptr);
  set_config("r", nullptr);
  EXPECT_EQ(error(), "Missing required configuration fields: r");
}

TEST_F(LoraAdapterLoad, RefusesMissingFilesAndForeignShapes) {
  auto missing = load_lora_adapter(dir_.string() + "/nope", config_, 16);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("No adapter found for"), std::string::npos);
  // A model of another shape: alpha's [8, 32] lora_A tensors do not fit hidden 48.
  ModelConfig other = config_;
  other.hidden = 48;
  auto wrong = load_lora_adapter(dir_.string(), other, 16);
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected a float tensor of shape"), std::string::npos);
  // r in the config differs from the tensors' rank.
  set_config("r", 4);
  EXPECT_NE(error().find("(r = 4)"), std::string::npos);
  fs::remove(dir_ / "adapter_model.safetensors");
  set_config("r", 8);
  EXPECT_NE(error().find("adapter_model.safetensors is missing"), std::string::npos);
}

// A tensor of a module the decoder cannot wrap: vLLM's "expected target modules" message.
TEST_F(LoraAdapterLoad, RefusesModulesTheModelCannotWrap) {
  std::string header = R"({"base_model.model.model.layers.0.self_attn.rotary.lora_A.weight":)"
                       R"({"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}})";
  header.resize((header.size() + 7) / 8 * 8, ' ');  // the data stays aligned (the format pads with spaces)
  std::ofstream out(dir_ / "adapter_model.safetensors", std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header;
  const float one = 1.0f;
  out.write(reinterpret_cast<const char*>(&one), 4);
  out.close();
  EXPECT_EQ(error().rfind("While loading " + dir_.string() + ", expected target modules in ['q_proj', 'k_proj', "
                          "'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] but received ['rotary']", 0),
            0u)
      << error();
}

TEST(LoraRank, VllmsAllowedMaxLoraRanks) {
  for (int r : {1, 8, 16, 32, 64, 128, 256, 320, 512}) EXPECT_TRUE(is_allowed_max_lora_rank(r)) << r;
  for (int r : {0, 2, 4, 15, 1024}) EXPECT_FALSE(is_allowed_max_lora_rank(r)) << r;
}

}  // namespace
}  // namespace podserve
