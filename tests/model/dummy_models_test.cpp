// Model tier: LOAD_FORMAT=dummy builds every architecture of the shared decoder from config.json alone. The
// tensors it makes are exactly the ones transformers saved for the same config (names, shapes, dtype: the tiny
// checkpoints of tools/goldens/tiny_models.py), the forward pass gives finite, near-uniform logits (weights within
// +-1e-3, as vLLM's dummy loader), and two builds give the same bits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "model/causal_lm.h"
#include "model/device/device_choice.h"
#include "model/dummy_weights.h"
#include "model/hf_config.h"
#include "model/loaded_model.h"
#include "model/registry.h"
#include "model_checks.h"
#include "test_util.h"

namespace podserve {
namespace {

using testing::ids_of;
using testing::tiny_model_dir;

constexpr const testing::ScrambledKv& kKv = testing::kTinyModelKv;

struct Built {
  std::unique_ptr<CausalLm> lm;
  std::vector<DummyTensor> layout;
  DummyFillStats stats;
};

Built build(const std::string& dir, uint64_t seed = dummy::kDummySeed) {
  Built b;
  Result<HfConfig> config = read_hf_config(dir);
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  if (!config.ok()) return b;
  Result<DType> type = dummy_weight_type(WeightDType::kAuto, config->torch_dtype);
  EXPECT_TRUE(type.ok()) << type.status().to_string();
  auto maker = std::make_shared<DummyWeights>(type.value(), seed, 2);
  auto lm = create_hf_causal_lm(std::move(config).value(), SafetensorsModel::made_by(maker), WeightDType::kAuto, 2);
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  if (lm.ok()) b.lm = std::move(lm).value();
  b.stats = maker->finish();
  b.layout = maker->layout();
  return b;
}

std::vector<float> prompt_logits(CausalLm& lm, const std::vector<int32_t>& ids) {
  KvPool pool = kKv.make_pool(lm);
  std::vector<float> logits;
  Status s = kKv.run(lm, pool, ids, 0, logits);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return logits;
}

class DummyModel : public ::testing::TestWithParam<std::string> {};

TEST_P(DummyModel, MakesTransformersTensorsAndRuns) {
  const std::string dir = tiny_model_dir(GetParam());
  Built b = build(dir);
  ASSERT_NE(b.lm, nullptr);
  // The same tensors as the checkpoint transformers wrote for this config.
  Result<SafetensorsModel> real = SafetensorsModel::open(dir);
  ASSERT_TRUE(real.ok()) << real.status().to_string();
  std::map<std::string, std::vector<int64_t>> made;
  for (const DummyTensor& t : b.layout) made[t.name] = t.shape;
  uint64_t real_bytes = 0;
  for (const auto& [name, t] : real->tensors()) {
    ASSERT_TRUE(made.count(name)) << GetParam() << ": transformers saved '" << name << "', dummy did not make it";
    EXPECT_EQ(made[name], t.shape) << name;
    real_bytes += t.nbytes;
  }
  EXPECT_EQ(made.size(), real->tensors().size()) << GetParam();
  EXPECT_EQ(b.stats.bytes, real_bytes) << GetParam();  // hence the same dtype as well

  const testing::ScrambledKv kv = kKv;
  const std::vector<int32_t> prompt = ids_of(testing::read_goldens(tiny_model_dir(GetParam().substr(0, GetParam().find('/'))) +
                                                       "/goldens.json").at("cases").as_array()[1].at("ids"));
  std::vector<float> logits = prompt_logits(*b.lm, prompt);
  ASSERT_EQ(logits.size(), static_cast<size_t>(b.lm->config().vocab_size));
  for (float x : logits) {
    ASSERT_TRUE(std::isfinite(x)) << GetParam();
    ASSERT_LT(std::fabs(x), 0.1f) << GetParam();  // +-1e-3 weights: a near-uniform next-token distribution
  }
  testing::expect_chunked_prefill_equals_one_shot(*b.lm, kv, prompt);

  Built again = build(dir);
  ASSERT_NE(again.lm, nullptr);
  EXPECT_EQ(prompt_logits(*again.lm, prompt), logits) << GetParam() << ": two dummy builds differ";
  Built reseeded = build(dir, 7);
  ASSERT_NE(reseeded.lm, nullptr);
  EXPECT_NE(prompt_logits(*reseeded.lm, prompt), logits) << GetParam() << ": the seed changes nothing";
}

INSTANTIATE_TEST_SUITE_P(Architectures, DummyModel,
                         ::testing::Values("llama/bf16", "llama31/f32", "mistral/bf16", "qwen2/bf16", "qwen3/f32",
                                           "gemma/bf16", "gemma2/f32", "gemma3/bf16", "phi3/bf16", "mixtral/bf16",
                                           "smollm2/f32"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '/' ? '_' : c;
                           return name;
                         });

// load_model with LOAD_FORMAT=dummy: a folder with config.json and the tokenizer only.
class DummyLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("podserve-dummy-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
      std::filesystem::copy_file(tiny_model_dir("smollm2/f32") + "/" + f, dir_ / f,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DummyLoad, ConfigAndTokenizerAreEnough) {
  LoadOptions options{.show_progress = false, .num_threads = 2};
  options.load_format = LoadFormat::kDummy;
  Result<std::unique_ptr<LoadedModel>> model = load_model(dir_.string(), options);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_TRUE((*model)->lm().config().kv_f32);  // config.json says float32
  EXPECT_GT((*model)->tokenizer().vocab_size(), 300);
  // As many bytes as transformers' float32 checkpoint of this config.
  Result<SafetensorsModel> real = SafetensorsModel::open(tiny_model_dir("smollm2/f32"));
  ASSERT_TRUE(real.ok()) << real.status().to_string();
  uint64_t real_bytes = 0;
  for (const auto& [name, t] : real->tensors()) real_bytes += t.nbytes;
  EXPECT_EQ((*model)->dummy_weight_bytes(), real_bytes);
  // DTYPE wins over config.json: bfloat16 weights, fp16 K/V; KV_CACHE_DTYPE=float16 is then what the CPU does.
  options.dtype = "bfloat16";
  options.device.kv_cache_dtype = KvCacheDType::kFloat16;
  model = load_model(dir_.string(), options);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_FALSE((*model)->lm().config().kv_f32);
  EXPECT_EQ((*model)->dummy_weight_bytes(), real_bytes / 2);
}

TEST_F(DummyLoad, SettingsThisBuildCannotHonourAreClearErrors) {
  auto error_of = [&](const std::string& path, LoadOptions options) {
    options.show_progress = false;
    Result<std::unique_ptr<LoadedModel>> model = load_model(path, options);
    EXPECT_FALSE(model.ok()) << path;
    return model.ok() ? std::string() : model.status().message();
  };
  const std::string gguf = tiny_model_dir("smollm2/model-f32.gguf");
  std::string e = error_of(gguf, LoadOptions{.load_format = LoadFormat::kDummy});
  EXPECT_NE(e.find("LOAD_FORMAT (--load-format) dummy needs a Hugging Face model directory"), std::string::npos) << e;
  e = error_of(gguf, LoadOptions{.load_format = LoadFormat::kSafetensors});
  EXPECT_NE(e.find("LOAD_FORMAT (--load-format) safetensors"), std::string::npos) << e;
  e = error_of(dir_.string(), LoadOptions{.load_format = LoadFormat::kGguf});
  EXPECT_NE(e.find("needs a .gguf file, not a directory"), std::string::npos) << e;
  e = error_of(dir_.string(), LoadOptions{});  // auto: a directory without weights is not a model
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  LoadOptions cuda{.load_format = LoadFormat::kDummy};
  cuda.device.device = Device::kCuda;
  // Without a usable GPU (this machine; or a build without CUDA) DEVICE=cuda stops start-up, naming why.
  if (probe_cuda().device_count == 0) {
    e = error_of(dir_.string(), cuda);
    EXPECT_NE(e.find("DEVICE=cuda (--device cuda)"), std::string::npos) << e;
  }
  LoadOptions bf16_kv{.load_format = LoadFormat::kDummy};
  bf16_kv.device.kv_cache_dtype = KvCacheDType::kBFloat16;
  e = error_of(dir_.string(), bf16_kv);
  EXPECT_NE(e.find("KV_CACHE_DTYPE (--kv-cache-dtype) bfloat16 is not supported on the CPU"), std::string::npos) << e;
}

}  // namespace
}  // namespace podserve
