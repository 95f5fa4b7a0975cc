// Model tier: LoRA adapters against transformers + peft. tools/goldens/lora_adapters.py made two random adapters
// with peft for the tiny smollm2 model (alpha: r=8 on q/k/v/o; beta: r=4 on every linear of the blocks) and
// recorded peft's logits with each adapter and without; here the shared decoder (safetensors) and the GGUF llama
// path (the same weights as tiny_models.py wrote them in GGUF, Q/K rows permuted as llama.cpp's converter does)
// run them through the batched LoRA kernel, alone and mixed in one batch. The script also made "gamma" for the
// tiny llama model, whose 4 query heads share 2 K/V heads, and recorded peft's results with it on the f32 weights
// and on the weights its Q8_0 / Q4_1 GGUF files hold: the GGUF path with grouped K/V heads and quantized bases.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/hf_config.h"
#include "model/lora.h"
#include "model/registry.h"
#include "model_checks.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;
using testing::ids_of;
using testing::max_diff;
using testing::tiny_model_dir;

constexpr double kF32Tolerance = 1e-4;  // transformers in float32 vs us in float32: only summation order differs
// The GGUF llama path keeps K/V in fp16: tiny_models_test's bound for these files (a wrong permutation is off by ~2).
constexpr double kGgufF16KvTolerance = 1e-2;
constexpr const testing::ScrambledKv& kKv = testing::kTinyModelKv;

std::string lora_dir() { return testing::test_data_dir() + "/lora"; }

// The shared decoder on a tiny model's f32/ safetensors directory; null (and a test failure) if it does not load.
std::unique_ptr<CausalLm> load_f32_dir(const std::string& model) {
  const std::string dir = tiny_model_dir(model) + "/f32";
  auto config = read_hf_config(dir);
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  auto weights = SafetensorsModel::open(dir);
  EXPECT_TRUE(weights.ok()) << weights.status().to_string();
  if (!config.ok() || !weights.ok()) return nullptr;
  auto lm = create_hf_causal_lm(std::move(config).value(), std::move(weights).value(), WeightDType::kAuto, 2);
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

// The parameter: "safetensors" (the shared decoder on f32/) or "gguf" (the GGUF llama path on model-f32.gguf).
class LoraModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "gguf") {
      lm_ = testing::load_gguf_lm(tiny_model_dir("smollm2") + "/model-f32.gguf");
      ASSERT_NE(lm_, nullptr);
      ASSERT_TRUE(lm_->config().qk_rows_interleaved);  // the fast path, not the shared decoder
    } else {
      lm_ = load_f32_dir("smollm2");
      ASSERT_NE(lm_, nullptr);
    }
    ASSERT_TRUE(lm_->supports_lora());
    for (const char* name : {"alpha", "beta"}) {
      auto a = load_lora_adapter(lora_dir() + "/" + name, lm_->config(), 16);
      ASSERT_TRUE(a.ok()) << a.status().to_string();
      adapters_.push_back(std::move(a).value());
    }
    goldens_ = testing::read_goldens(lora_dir() + "/goldens.json");
  }

  // The adapter of a golden model name (nullptr: base).
  const LoraAdapter* adapter(const std::string& name) const {
    return name == "alpha" ? adapters_[0].get() : name == "beta" ? adapters_[1].get() : nullptr;
  }

  double tolerance() const { return GetParam() == "gguf" ? kGgufF16KvTolerance : kF32Tolerance; }

  std::unique_ptr<CausalLm> lm_;
  std::vector<std::shared_ptr<const LoraAdapter>> adapters_;
  json::value goldens_;
};

// Each adapter (and none) on each prompt: logits within 1e-4 of peft's at every recorded position (1e-2 with the
// GGUF path's fp16 K/V); and the adapters really change the logits (so the comparison could fail).
TEST_P(LoraModel, MatchesPeft) {
  const int vocab = lm_->config().vocab_size;
  const auto& prompts = goldens_.at("prompts").as_array();
  const auto& positions = goldens_.at("positions").as_array();
  for (const char* name : {"base", "alpha", "beta"}) {
    const auto& golden = goldens_.at("models").at(name).at("logits").as_array();
    for (size_t p = 0; p < prompts.size(); ++p) {
      const std::vector<int32_t> ids = ids_of(prompts[p]);
      KvPool pool = kKv.make_pool(*lm_);
      ForwardBatch batch;
      const LoraAdapter* a = adapter(name);
      if (a) batch.loras.push_back(a);
      batch.add_sequence(ids, 0, kKv.table(), kKv.block_size, false, a ? 0 : -1);
      batch.logits_rows = ids_of(positions[p]);
      std::vector<float> logits(batch.logits_rows.size() * vocab);
      Status s = lm_->forward(batch, pool, logits.data());
      ASSERT_TRUE(s.ok()) << s.to_string();
      EXPECT_LE(max_diff(logits, golden[p], vocab), tolerance()) << name << " prompt " << p;
      if (a) {
        const auto& base = goldens_.at("models").at("base").at("logits").as_array();
        EXPECT_GT(max_diff(logits, base[p], vocab), 0.05) << name << " does not change the logits";
      }
    }
  }
}

// One batch holding alpha, beta and the base model (prefill, then a decode step of all three): every sequence's
// logits are the bits it gets alone.
TEST_P(LoraModel, MixedBatchEqualsEachAlone) {
  const int vocab = lm_->config().vocab_size;
  const std::vector<int32_t> prompt = ids_of(goldens_.at("prompts").as_array()[1]);
  const std::vector<const LoraAdapter*> who = {adapters_[0].get(), nullptr, adapters_[1].get()};
  // Sequence i uses blocks [8 i, 8 i + 8) of one pool; alone, the same blocks of a fresh pool.
  auto table_of = [](size_t i) {
    std::vector<int32_t> t(8);
    for (int b = 0; b < 8; ++b) t[b] = static_cast<int32_t>(8 * i) + b;
    return t;
  };
  auto run = [&](KvPool& pool, const std::vector<size_t>& seqs, int start, const std::vector<int32_t>& tokens_of_step,
                 std::vector<float>& logits) {
    ForwardBatch batch;
    for (size_t i : seqs) {
      int32_t slot = -1;
      if (who[i]) {
        slot = static_cast<int32_t>(batch.loras.size());
        batch.loras.push_back(who[i]);
      }
      std::span<const int32_t> toks = start == 0 ? std::span<const int32_t>(prompt)
                                                 : std::span<const int32_t>(&tokens_of_step[i], 1);
      batch.add_sequence(toks, start, table_of(i), kKv.block_size, true, slot);
    }
    logits.assign(seqs.size() * vocab, 0.0f);
    return lm_->forward(batch, pool, logits.data());
  };
  const int len = static_cast<int>(prompt.size());
  const std::vector<int32_t> next = {5, 6, 7};
  KvPool mixed_pool = kKv.make_pool(*lm_);
  std::vector<float> mixed_prefill, mixed_decode;
  ASSERT_TRUE(run(mixed_pool, {0, 1, 2}, 0, next, mixed_prefill).ok());
  ASSERT_TRUE(run(mixed_pool, {0, 1, 2}, len, next, mixed_decode).ok());
  for (size_t i = 0; i < who.size(); ++i) {
    KvPool pool = kKv.make_pool(*lm_);
    std::vector<float> prefill, decode;
    ASSERT_TRUE(run(pool, {i}, 0, next, prefill).ok());
    ASSERT_TRUE(run(pool, {i}, len, next, decode).ok());
    for (int v = 0; v < vocab; ++v) {
      ASSERT_EQ(prefill[v], mixed_prefill[i * vocab + v]) << "sequence " << i << " prefill, token " << v;
      ASSERT_EQ(decode[v], mixed_decode[i * vocab + v]) << "sequence " << i << " decode, token " << v;
    }
  }
  // The three differ from one another (the slots were really applied per token).
  EXPECT_NE(std::vector<float>(mixed_decode.begin(), mixed_decode.begin() + vocab),
            std::vector<float>(mixed_decode.begin() + vocab, mixed_decode.begin() + 2 * vocab));
}

// Greedy continuations of the text prompt, token by token through the paged cache, equal peft's.
TEST_P(LoraModel, GreedyMatchesPeft) {
  const std::vector<int32_t> ids = ids_of(goldens_.at("text_ids"));
  for (const char* name : {"base", "alpha", "beta"}) {
    const std::vector<int32_t> expected = ids_of(goldens_.at("models").at(name).at("greedy_ids"));
    const LoraAdapter* a = adapter(name);
    KvPool pool = kKv.make_pool(*lm_);
    std::vector<int32_t> seq = ids;
    std::vector<int32_t> got;
    int start = 0;
    while (got.size() < expected.size()) {
      ForwardBatch batch;
      if (a) batch.loras.push_back(a);
      batch.add_sequence(std::span<const int32_t>(seq).subspan(start), start, kKv.table(), kKv.block_size, true,
                         a ? 0 : -1);
      std::vector<float> logits(lm_->config().vocab_size);
      Status s = lm_->forward(batch, pool, logits.data());
      ASSERT_TRUE(s.ok()) << s.to_string();
      start = static_cast<int>(seq.size());
      got.push_back(testing::argmax(logits));
      seq.push_back(got.back());
    }
    EXPECT_EQ(got, expected) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, LoraModel, ::testing::Values("safetensors", "gguf"));

// The other architectures the shared decoder applies adapters on (lora_adapters.py --families: one peft adapter per
// tiny model, r=8 on every linear): mistral, qwen2 (q/k/v biases), qwen3 (q/k norms), gemma (gelu, scaled
// embedding), gemma2 (sandwich norms, soft-capping), gemma3 (sandwich norms, q/k norms, sliding layers), phi3
// (fused q|k|v and gate|up: its adapter targets qkv_proj and gate_up_proj, split per part at load). The
// adapter's logits within 1e-4 of peft's, the adapter moving them, and a batch mixing it with the base model giving
// each sequence its bits alone.
class LoraFamily : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    lm_ = load_f32_dir(GetParam());
    ASSERT_NE(lm_, nullptr);
    ASSERT_TRUE(lm_->supports_lora());
    auto a = load_lora_adapter(lora_dir() + "/families/" + GetParam(), lm_->config(), 16);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    adapter_ = std::move(a).value();
    static const json::value all = testing::read_goldens(lora_dir() + "/goldens_families.json");
    goldens_ = all.at(GetParam());
  }

  // Logits of `rows` of each sequence (prompt i with adapter who[i]) in one batch, sequence after sequence.
  Status forward(const std::vector<size_t>& prompts, const std::vector<const LoraAdapter*>& who,
                 std::vector<float>& logits) {
    KvPool pool = kKv.make_pool(*lm_);
    ForwardBatch batch;
    int32_t next_block = 0;
    for (size_t k = 0; k < prompts.size(); ++k) {
      const std::vector<int32_t> ids = ids_of(goldens_.at("prompts").as_array()[prompts[k]]);
      int32_t slot = -1;
      if (who[k]) {
        slot = static_cast<int32_t>(batch.loras.size());
        batch.loras.push_back(who[k]);
      }
      std::vector<int32_t> table(8);
      for (int32_t& b : table) b = next_block++;
      const int32_t first = static_cast<int32_t>(batch.tokens.size());
      batch.add_sequence(ids, 0, table, kKv.block_size, false, slot);
      for (const auto& pos : goldens_.at("positions").as_array()[prompts[k]].as_array()) {
        batch.logits_rows.push_back(first + static_cast<int32_t>(pos.as_int64()));
      }
    }
    logits.assign(batch.logits_rows.size() * lm_->config().vocab_size, 0.0f);
    return lm_->forward(batch, pool, logits.data());
  }

  std::unique_ptr<CausalLm> lm_;
  std::shared_ptr<const LoraAdapter> adapter_;
  json::value goldens_;
};

TEST_P(LoraFamily, MatchesPeft) {
  const int vocab = lm_->config().vocab_size;
  const size_t n = goldens_.at("prompts").as_array().size();
  for (size_t p = 0; p < n; ++p) {
    for (const char* name : {"base", "adapter"}) {
      std::vector<float> logits;
      const LoraAdapter* a = std::string(name) == "adapter" ? adapter_.get() : nullptr;
      Status s = forward({p}, {a}, logits);
      ASSERT_TRUE(s.ok()) << s.to_string();
      const auto& golden = goldens_.at("models").at(name).at("logits").as_array();
      EXPECT_LE(max_diff(logits, golden[p], vocab), kF32Tolerance) << name << " prompt " << p;
      if (a) {
        const auto& base = goldens_.at("models").at("base").at("logits").as_array();
        EXPECT_GT(max_diff(logits, base[p], vocab), 0.05) << "the adapter does not change the logits";
      }
    }
  }
}

TEST_P(LoraFamily, MixedBatchEqualsEachAlone) {
  std::vector<float> mixed, alone_adapter, alone_base;
  ASSERT_TRUE(forward({1, 1}, {adapter_.get(), nullptr}, mixed).ok());
  ASSERT_TRUE(forward({1}, {adapter_.get()}, alone_adapter).ok());
  ASSERT_TRUE(forward({1}, {nullptr}, alone_base).ok());
  std::vector<float> both = alone_adapter;
  both.insert(both.end(), alone_base.begin(), alone_base.end());
  EXPECT_EQ(mixed, both);
}

INSTANTIATE_TEST_SUITE_P(Architectures, LoraFamily,
                         ::testing::Values("mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3"));

// A model that does not apply adapters (Mixtral's experts, on the shared decoder from GGUF) refuses a batch that
// uses one (never silently runs the base model).
TEST(LoraRefusal, MixtralRefusesLoraTokens) {
  auto lm = testing::load_gguf_lm(tiny_model_dir("mixtral") + "/gguf-f32.gguf");
  ASSERT_NE(lm, nullptr);
  EXPECT_FALSE(lm->supports_lora());
  LoraAdapter adapter;  // any adapter: the batch is refused before its weights are looked at
  adapter.layers.resize(lm->config().n_layers);
  KvPool pool = kKv.make_pool(*lm);
  ForwardBatch batch;
  batch.loras.push_back(&adapter);
  const std::vector<int32_t> ids = {3, 4, 5};
  batch.add_sequence(ids, 0, kKv.table(), kKv.block_size, true, 0);
  std::vector<float> logits(lm->config().vocab_size);
  Status s = lm->forward(batch, pool, logits.data());
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.to_string();
  EXPECT_NE(s.message().find("LoRA"), std::string::npos) << s.to_string();
}

// Grouped-query attention on the GGUF llama path: gamma on the tiny llama (K/V heads 2 of 4, so k_proj's lora_B
// is permuted per K/V head) against peft, on the fast path (which computes in GGUF's interleaved Q/K layout) and
// on the shared decoder from the same file (which puts the rows back in Hugging Face's order).
class LoraGqaGguf : public ::testing::Test {
 protected:
  void SetUp() override { goldens_ = testing::read_goldens(lora_dir() + "/goldens_gqa.json"); }

  std::shared_ptr<const LoraAdapter> gamma(const CausalLm& lm) {
    auto a = load_lora_adapter(lora_dir() + "/gamma", lm.config(), 16);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    return a.ok() ? std::move(a).value() : nullptr;
  }

  json::value goldens_;
};

TEST_F(LoraGqaGguf, MatchesPeft) {
  const std::string path = tiny_model_dir("llama") + "/model-f32.gguf";
  std::vector<std::unique_ptr<CausalLm>> lms;
  lms.push_back(testing::load_gguf_lm(path));
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto shared = create_gguf_decoder(std::move(file).value(), 2);
  ASSERT_TRUE(shared.ok()) << shared.status().to_string();
  lms.push_back(std::move(shared).value());
  ASSERT_NE(lms[0], nullptr);
  ASSERT_TRUE(lms[0]->config().qk_rows_interleaved);
  ASSERT_FALSE(lms[1]->config().qk_rows_interleaved);
  const auto& prompts = goldens_.at("prompts").as_array();
  const auto& positions = goldens_.at("positions").as_array();
  for (auto& lm : lms) {
    const char* which = lm->config().qk_rows_interleaved ? "fast path" : "shared decoder";
    ASSERT_LT(lm->config().n_kv_heads, lm->config().n_heads);
    const std::shared_ptr<const LoraAdapter> a = gamma(*lm);
    ASSERT_NE(a, nullptr);
    const int vocab = lm->config().vocab_size;
    for (const char* name : {"base", "gamma"}) {
      const bool lora = std::string(name) == "gamma";
      const auto& golden = goldens_.at("models").at(name).at("logits").as_array();
      for (size_t p = 0; p < prompts.size(); ++p) {
        KvPool pool = kKv.make_pool(*lm);
        ForwardBatch batch;
        if (lora) batch.loras.push_back(a.get());
        batch.add_sequence(ids_of(prompts[p]), 0, kKv.table(), kKv.block_size, false, lora ? 0 : -1);
        batch.logits_rows = ids_of(positions[p]);
        std::vector<float> logits(batch.logits_rows.size() * vocab);
        Status s = lm->forward(batch, pool, logits.data());
        ASSERT_TRUE(s.ok()) << s.to_string();
        EXPECT_LE(max_diff(logits, golden[p], vocab), kGgufF16KvTolerance) << which << " " << name << " prompt " << p;
        if (lora) {
          const auto& base = goldens_.at("models").at("base").at("logits").as_array();
          EXPECT_GT(max_diff(logits, base[p], vocab), 0.05) << "gamma does not change the logits";
        }
      }
    }
  }
}

// Greedy continuation of the longer prompt with gamma through the paged cache: peft's ids.
TEST_F(LoraGqaGguf, GreedyMatchesPeft) {
  auto lm = testing::load_gguf_lm(tiny_model_dir("llama") + "/model-f32.gguf");
  ASSERT_NE(lm, nullptr);
  const std::shared_ptr<const LoraAdapter> a = gamma(*lm);
  ASSERT_NE(a, nullptr);
  const std::vector<int32_t> prompt = ids_of(goldens_.at("prompts").as_array()[1]);
  const std::vector<int32_t> expected = ids_of(goldens_.at("models").at("gamma").at("greedy_ids"));
  ASSERT_NE(expected, ids_of(goldens_.at("models").at("base").at("greedy_ids")));
  KvPool pool = kKv.make_pool(*lm);
  std::vector<int32_t> seq = prompt;
  std::vector<float> logits;
  int start = 0;
  while (seq.size() < prompt.size() + expected.size()) {
    ASSERT_TRUE(kKv.run(*lm, pool, std::span<const int32_t>(seq).subspan(start), start, logits, a.get()).ok());
    start = static_cast<int>(seq.size());
    seq.push_back(testing::argmax(logits));
  }
  EXPECT_EQ(std::vector<int32_t>(seq.begin() + prompt.size(), seq.end()), expected);
}

// Quantized bases (the LoRA delta is float32 and computed apart from the base's matmul): along transformers +
// peft's greedy path on the weights the Q8_0 / Q4_1 files hold, our top-1 is within its top-5 at every step (the
// quant tests' rule: our quantized matmuls also round activations to 8 bits).
TEST_F(LoraGqaGguf, QuantizedBaseTopOneWithinReferenceTopFive) {
  for (const char* qname : {"Q8_0", "Q4_1"}) {
    std::string lower = qname;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto lm = testing::load_gguf_lm(tiny_model_dir("llama") + "/model-" + lower + ".gguf");
    ASSERT_NE(lm, nullptr);
    const std::shared_ptr<const LoraAdapter> a = gamma(*lm);
    ASSERT_NE(a, nullptr);
    testing::PathTally tally;
    for (const auto& c : goldens_.at("quant").at(qname).as_array()) {
      testing::expect_top1_within_reference_top5(*lm, kKv, c, qname, tally, std::numeric_limits<size_t>::max(),
                                                 a.get());
    }
    if (std::getenv("PODSERVE_TEST_VERBOSE")) {
      std::printf("%s + gamma: top-1 equal on %d of %d steps\n", qname, tally.equal, tally.steps);
    }
  }
}

}  // namespace
}  // namespace podserve
