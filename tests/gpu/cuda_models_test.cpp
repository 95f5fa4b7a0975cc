// GPU tier (ctest label gpu; built with CUDA, run by scripts/device-check on a lent GPU): the CUDA model against
// the same references as the model tier, with the model tier's rules.
// - TinyModelsOnGpu: every architecture's tiny random model (tools/goldens/tiny_models.py) against transformers:
//   bf16 weights with DTYPE=auto within transformers' own bf16 error (twice it, plus 0.02: the CPU rule); float32
//   weights with fp16 K/V within 1e-2 (the CPU rule for fp16 K/V), both through one prefill step and through
//   one-token decode steps (the GEMV and decode-attention path).
// - TinyGgufOnGpu: the llama-arch GGUF conversions (F32; Q8_0/Q4_0/Q4_1 by vLLM's top-5 rule).
// - LlamaCppOnGpu: SmolLM2 Q4_1 and Gemma 3 greedy against llama.cpp's goldens (the files must be on the machine).
// - GraphsOnGpu: a decode step replayed through a CUDA graph (padded to the graph's size) gives the bits of the
//   same step run eagerly.
// - LoraOnGpu: peft's adapters (tools/goldens/lora_adapters.py) on the tiny models of eight architectures, as the
//   model tier checks them on the CPU: logits within the fp16 K/V bound of peft's, in one prefill step and in
//   one-token decode steps of a batch that mixes the adapter with the base model.
// - DummyOnGpu: LOAD_FORMAT=dummy filled on the device gives the CPU dummy model's logits (the same hash values;
//   bf16 GEMM rounding aside), so the device fill computes the documented function.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/llama_cpp_goldens.h"
#include "model/causal_lm.h"
#include "model/hf_config.h"
#include "model/loaded_model.h"
#include "model/lora.h"
#include "model/registry.h"
#include "model/model_checks.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;
using testing::ids_of;
using testing::max_diff;
using testing::tiny_model_dir;

constexpr const testing::ScrambledKv& kKv = testing::kTinyModelKv;
constexpr double kF16KvTolerance = 1e-2;  // tiny_models_test.cpp's bound for float32 weights with fp16 K/V

ComputeOptions on_gpu() {
  ComputeOptions c(2);
  c.device = Device::kCuda;
  return c;
}

std::unique_ptr<CausalLm> load_dir(const std::string& dir, WeightDType dtype) {
  auto config = read_hf_config(dir);
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  if (!config.ok()) return nullptr;
  auto weights = SafetensorsModel::open(dir);
  EXPECT_TRUE(weights.ok()) << weights.status().to_string();
  if (!weights.ok()) return nullptr;
  auto lm = create_hf_causal_lm(std::move(config).value(), std::move(weights).value(), dtype, on_gpu());
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

std::unique_ptr<CausalLm> load_gguf(const std::string& path) {
  auto file = GgufFile::open(path);
  EXPECT_TRUE(file.ok()) << file.status().to_string();
  if (!file.ok()) return nullptr;
  auto lm = create_causal_lm(std::move(file).value(), on_gpu());
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

// The logits at `positions` of a prompt run one token per step (decode steps through the paged cache).
Status run_token_by_token(CausalLm& lm, KvPool& pool, const std::vector<int32_t>& ids,
                          const std::vector<int32_t>& positions, std::vector<float>& out) {
  const size_t vocab = static_cast<size_t>(lm.config().vocab_size);
  out.clear();
  std::vector<float> logits;
  size_t next = 0;
  for (size_t i = 0; i < ids.size() && next < positions.size(); ++i) {
    PODSERVE_RETURN_IF_ERROR(kKv.run(lm, pool, std::span(ids).subspan(i, 1), static_cast<int>(i), logits));
    if (static_cast<int32_t>(i) == positions[next]) {
      out.insert(out.end(), logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(vocab));
      ++next;
    }
  }
  return ok_status();
}

class TinyModelsOnGpu : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { goldens_ = testing::read_goldens(tiny_model_dir(GetParam()) + "/goldens.json"); }
  const json::array& cases() const { return goldens_.at("cases").as_array(); }
  json::value goldens_;
};

TEST_P(TinyModelsOnGpu, Bf16MatchesTransformers) {
  auto lm = load_dir(tiny_model_dir(GetParam()) + "/bf16", WeightDType::kAuto);
  ASSERT_NE(lm, nullptr);
  const int vocab = lm->config().vocab_size;
  for (const auto& c : cases()) {
    KvPool pool = kKv.make_pool(*lm);
    std::vector<float> logits;
    Status s = kKv.run_prompt(*lm, pool, ids_of(c.at("ids")), ids_of(c.at("positions")), logits);
    ASSERT_TRUE(s.ok()) << s.to_string();
    std::vector<float> hf_f32;
    for (const auto& row : c.at("bf16_weights_f32").as_array()) {
      for (const auto& v : row.as_array()) hf_f32.push_back(static_cast<float>(v.to_number<double>()));
    }
    const double hf_error = max_diff(hf_f32, c.at("bf16"), vocab);
    const double d = max_diff(logits, c.at("bf16"), vocab);
    std::printf("%s bf16 n=%zu: max diff %.4f (transformers' own bf16 error %.4f)\n", GetParam().c_str(),
                c.at("ids").as_array().size(), d, hf_error);
    EXPECT_LE(d, 2 * hf_error + 0.02) << GetParam();
  }
}

TEST_P(TinyModelsOnGpu, F32WeightsMatchTransformersInPrefillAndDecode) {
  auto lm = load_dir(tiny_model_dir(GetParam()) + "/f32", WeightDType::kAuto);
  ASSERT_NE(lm, nullptr);
  const int vocab = lm->config().vocab_size;
  for (const auto& c : cases()) {
    const std::vector<int32_t> ids = ids_of(c.at("ids")), positions = ids_of(c.at("positions"));
    KvPool pool = kKv.make_pool(*lm);
    std::vector<float> prefill, decode;
    Status s = kKv.run_prompt(*lm, pool, ids, positions, prefill);
    ASSERT_TRUE(s.ok()) << s.to_string();
    KvPool pool2 = kKv.make_pool(*lm);
    s = run_token_by_token(*lm, pool2, ids, positions, decode);
    ASSERT_TRUE(s.ok()) << s.to_string();
    const double dp = max_diff(prefill, c.at("f32"), vocab), dd = max_diff(decode, c.at("f32"), vocab);
    std::printf("%s f32 n=%zu: prefill max diff %.4f, decode steps %.4f\n", GetParam().c_str(), ids.size(), dp, dd);
    EXPECT_LE(dp, kF16KvTolerance) << GetParam() << " prefill, prompt of " << ids.size();
    EXPECT_LE(dd, kF16KvTolerance) << GetParam() << " decode steps, prompt of " << ids.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, TinyModelsOnGpu,
                         ::testing::Values("llama", "llama31", "llama_linear", "llama_yarn", "smollm2", "mistral",
                                           "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "mixtral"));

class TinyGgufOnGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyGgufOnGpu, MatchesTransformers) {
  auto lm = load_gguf(tiny_model_dir(GetParam()) + "/model-f32.gguf");
  ASSERT_NE(lm, nullptr);
  const json::value g = testing::read_goldens(tiny_model_dir(GetParam()) + "/goldens.json");
  const int vocab = lm->config().vocab_size;
  for (const auto& c : g.at("cases").as_array()) {
    KvPool pool = kKv.make_pool(*lm);
    std::vector<float> logits;
    Status s = kKv.run_prompt(*lm, pool, ids_of(c.at("ids")), ids_of(c.at("positions")), logits);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_LE(max_diff(logits, c.at("f32"), vocab), kF16KvTolerance) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(LlamaArch, TinyGgufOnGpu, ::testing::Values("llama", "llama31", "llama_linear", "smollm2"));

TEST(TinyGgufQuantOnGpu, TopOneWithinReferenceTopFive) {
  const json::value g = testing::read_goldens(tiny_model_dir("llama") + "/goldens_quant.json");
  for (const auto& entry : g.at("types").as_object()) {
    std::string lower(entry.key());
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto lm = load_gguf(tiny_model_dir("llama") + "/model-" + lower + ".gguf");
    ASSERT_NE(lm, nullptr);
    testing::PathTally tally;
    for (const auto& c : entry.value().as_array()) {
      testing::expect_top1_within_reference_top5(*lm, kKv, c, std::string(entry.key()), tally);
    }
    std::printf("%s on the GPU: top-1 equal on %d of %d steps\n", std::string(entry.key()).c_str(), tally.equal,
                tally.steps);
  }
}

// The model tier's llama.cpp rule (greedy_test.cpp, gemma3_greedy_test.cpp) with the model on the GPU.
void llama_cpp_on_gpu(const char* env, const std::string& goldens, testing::NearTieRule rule) {
  const char* path = std::getenv(env);
  if (path == nullptr || !std::filesystem::exists(path)) GTEST_SKIP() << env << " is not on this machine";
  LoadOptions options{.show_progress = false};
  options.device.device = Device::kCuda;
  auto model = load_model(path, options);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const json::value g = testing::read_goldens(testing::test_data_dir() + "/" + goldens);
  const testing::ScrambledKv kv{.block_size = 16, .blocks = 64};
  testing::compare_with_llama_cpp(**model, g.at("cases").as_array(), rule, kv, false);
}

TEST(LlamaCppOnGpu, SmolLM2Q4_1) { llama_cpp_on_gpu("PODSERVE_TEST_MODEL", "model_greedy.json", {0.75, 0.5}); }
TEST(LlamaCppOnGpu, Gemma3) { llama_cpp_on_gpu("PODSERVE_TEST_MODEL_GEMMA3", "model_greedy_gemma3.json", {1.25, 0.75}); }

// Three sequences decoding: once through the graph captured for 4 (one padded row), once eagerly through a pool
// without graphs. The GEMV and decode attention give a token the same bits in any batch of <= 8, so the logits
// must be identical.
TEST(GraphsOnGpu, ReplayEqualsEager) {
  auto lm = load_dir(tiny_model_dir("llama") + "/bf16", WeightDType::kAuto);
  ASSERT_NE(lm, nullptr);
  KvCacheRequest r;
  r.block_size = 16;
  r.max_model_len = 64;
  r.max_num_seqs = 8;
  r.max_num_batched_tokens = 64;
  r.num_kv_blocks = 16;
  r.cuda_graphs = true;
  auto graph_pool = lm->create_kv_cache(r);
  ASSERT_TRUE(graph_pool.ok()) << graph_pool.status().to_string();
  r.cuda_graphs = false;
  auto eager_pool = lm->create_kv_cache(r);
  ASSERT_TRUE(eager_pool.ok()) << eager_pool.status().to_string();
  const int vocab = lm->config().vocab_size;
  auto run = [&](KvPool& pool, std::vector<float>& logits) {
    // Prompts of 5, 9 and 2 tokens (one prefill step), then three decode steps.
    const std::vector<std::vector<int32_t>> prompts = {{3, 4, 5, 6, 7}, {9, 8, 7, 6, 5, 4, 3, 2, 1}, {11, 12}};
    const std::vector<std::vector<int32_t>> tables = {{0, 1}, {2, 3}, {4, 5}};
    ForwardBatch prefill;
    for (size_t s = 0; s < 3; ++s) prefill.add_sequence(prompts[s], 0, tables[s], 16, true);
    std::vector<float> out(3 * static_cast<size_t>(vocab));
    ASSERT_TRUE(lm->forward(prefill, pool, out.data()).ok());
    logits.clear();
    for (int step = 0; step < 3; ++step) {
      ForwardBatch decode;
      for (size_t s = 0; s < 3; ++s) {
        const int32_t token = 20 + step;
        decode.add_sequence(std::span(&token, 1), static_cast<int>(prompts[s].size()) + step, tables[s], 16, true);
      }
      ASSERT_TRUE(lm->forward(decode, pool, out.data()).ok());
      logits.insert(logits.end(), out.begin(), out.end());
    }
  };
  std::vector<float> graphed, eager;
  run(*graph_pool, graphed);
  run(*eager_pool, eager);
  ASSERT_EQ(graphed.size(), eager.size());
  for (size_t i = 0; i < graphed.size(); ++i) ASSERT_EQ(graphed[i], eager[i]) << "logit " << i;
}

// (tiny model, adapter directory under tests/data/lora, goldens file, the golden's adapter name).
struct LoraCase {
  const char* model;
  const char* adapter;
  const char* goldens;
  const char* golden_name;
};
class LoraOnGpu : public ::testing::TestWithParam<LoraCase> {};

TEST_P(LoraOnGpu, MatchesPeftInPrefillAndMixedDecode) {
  const LoraCase& c = GetParam();
  auto lm = load_dir(tiny_model_dir(c.model) + "/f32", WeightDType::kAuto);
  ASSERT_NE(lm, nullptr);
  ASSERT_TRUE(lm->supports_lora());
  const std::string lora = testing::test_data_dir() + "/lora/";
  auto adapter = load_lora_adapter(lora + c.adapter, lm->config(), 16);
  ASSERT_TRUE(adapter.ok()) << adapter.status().to_string();
  json::value g = testing::read_goldens(lora + c.goldens);
  if (std::string(c.goldens) == "goldens_families.json") g = g.at(c.model);
  const int vocab = lm->config().vocab_size;
  const auto& prompts = g.at("prompts").as_array();
  const auto& positions = g.at("positions").as_array();
  const auto& want = g.at("models").at(c.golden_name).at("logits").as_array();
  const auto& want_base = g.at("models").at("base").at("logits").as_array();
  for (size_t p = 0; p < prompts.size(); ++p) {
    const std::vector<int32_t> ids = ids_of(prompts[p]), rows = ids_of(positions[p]);
    // One prefill step with the adapter.
    KvPool pool = kKv.make_pool(*lm);
    ForwardBatch batch;
    batch.loras.push_back(adapter->get());
    batch.add_sequence(ids, 0, kKv.table(), kKv.block_size, false, 0);
    batch.logits_rows = rows;
    std::vector<float> logits(rows.size() * static_cast<size_t>(vocab));
    Status s = lm->forward(batch, pool, logits.data());
    ASSERT_TRUE(s.ok()) << s.to_string();
    const double d = max_diff(logits, want[p], vocab);
    std::printf("%s lora prefill n=%zu: max diff %.4f\n", c.model, ids.size(), d);
    EXPECT_LE(d, kF16KvTolerance) << c.model << " prefill, prompt " << p;
    // Decode steps of two sequences, the adapter's and the base model's, token by token.
    KvPool pool2 = kKv.make_pool(*lm);
    std::vector<float> got_lora, got_base, step(2 * static_cast<size_t>(vocab));
    const std::vector<int32_t> table = kKv.table();
    const std::vector<int32_t> t0(table.begin(), table.begin() + kKv.blocks / 2);
    const std::vector<int32_t> t1(table.begin() + kKv.blocks / 2, table.end());
    size_t next = 0;
    for (size_t i = 0; i < ids.size() && next < rows.size(); ++i) {
      ForwardBatch d2;
      d2.loras.push_back(adapter->get());
      d2.add_sequence(std::span(ids).subspan(i, 1), static_cast<int>(i), t0, kKv.block_size, true, 0);
      d2.add_sequence(std::span(ids).subspan(i, 1), static_cast<int>(i), t1, kKv.block_size, true, -1);
      s = lm->forward(d2, pool2, step.data());
      ASSERT_TRUE(s.ok()) << s.to_string();
      if (static_cast<int32_t>(i) == rows[next]) {
        got_lora.insert(got_lora.end(), step.begin(), step.begin() + vocab);
        got_base.insert(got_base.end(), step.begin() + vocab, step.end());
        ++next;
      }
    }
    EXPECT_LE(max_diff(got_lora, want[p], vocab), kF16KvTolerance) << c.model << " mixed decode, adapter";
    EXPECT_LE(max_diff(got_base, want_base[p], vocab), kF16KvTolerance) << c.model << " mixed decode, base";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Adapters, LoraOnGpu,
    ::testing::Values(LoraCase{"smollm2", "alpha", "goldens.json", "alpha"},
                      LoraCase{"smollm2", "beta", "goldens.json", "beta"},
                      LoraCase{"llama", "gamma", "goldens_gqa.json", "gamma"},
                      LoraCase{"mistral", "families/mistral", "goldens_families.json", "adapter"},
                      LoraCase{"qwen2", "families/qwen2", "goldens_families.json", "adapter"},
                      LoraCase{"qwen3", "families/qwen3", "goldens_families.json", "adapter"},
                      LoraCase{"gemma", "families/gemma", "goldens_families.json", "adapter"},
                      LoraCase{"gemma2", "families/gemma2", "goldens_families.json", "adapter"},
                      LoraCase{"gemma3", "families/gemma3", "goldens_families.json", "adapter"},
                      LoraCase{"phi3", "families/phi3", "goldens_families.json", "adapter"}),
    [](const ::testing::TestParamInfo<LoraCase>& info) {
      std::string name = std::string(info.param.model) + "_" + info.param.golden_name;
      return name;
    });

TEST(DummyOnGpu, SameLogitsAsTheCpuDummyModel) {
  LoadOptions options{.show_progress = false, .dtype = "bfloat16"};
  options.load_format = LoadFormat::kDummy;
  options.device.device = Device::kCpu;
  auto cpu = load_model(tiny_model_dir("llama") + "/f32", options);
  options.device.device = Device::kCuda;
  auto gpu = load_model(tiny_model_dir("llama") + "/f32", options);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  const std::vector<int32_t> prompt = {5, 17, 33, 2, 90, 41, 7, 64};
  std::vector<float> a, b;
  KvPool pa = kKv.make_pool((*cpu)->lm()), pb = kKv.make_pool((*gpu)->lm());
  ASSERT_TRUE(kKv.run((*cpu)->lm(), pa, prompt, 0, a).ok());
  ASSERT_TRUE(kKv.run((*gpu)->lm(), pb, prompt, 0, b).ok());
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  std::printf("dummy llama: CPU vs GPU max logit difference %.3g of max |logit| %.3g\n", diff, scale);
  ASSERT_GT(scale, 0.0);
  EXPECT_LE(diff, 0.02 * scale);  // other values would differ by about the logits' own size
}

}  // namespace
}  // namespace podserve
