// Model tier for the formats of real Q4_K_M GGUFs: a tiny random llama (hidden and ffn 256, so every matrix is
// whole 256-blocks) quantized by llama.cpp's own quantizer to Q4_K_M (Q4_K + Q6_K), pure Q5_0 and pure Q5_1
// (tools/goldens/kquants.py). Reference: transformers on the weights as gguf-py dequantizes them. Along its
// greedy path our top-1 must be within its top-5 at every step (issue 3's rule for quantized formats, vLLM's
// check_logprobs_close); our matmuls also round activations to 8 bits (Q8_K / Q8_0, as llama.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/decoder.h"
#include "model/loaded_model.h"
#include "model/registry.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

constexpr int kBlockSize = 16;
constexpr int kBlocks = 8;  // 128 positions: the longest prompt (40) plus 24 steps

std::string data_dir() { return testing::test_data_dir() + "/kquants"; }

std::vector<int32_t> ints(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

std::vector<int32_t> scrambled_table() {
  std::vector<int32_t> table(kBlocks);
  for (int i = 0; i < kBlocks; ++i) table[i] = (i * 5 + 3) % kBlocks;
  return table;
}

class KQuantModel : public ::testing::TestWithParam<std::string> {};

TEST_P(KQuantModel, TopOneWithinReferenceTopFive) {
  const json::value g = json::parse(testing::read_file(data_dir() + "/goldens.json"));
  const json::object& entry = g.at("models").at(GetParam()).as_object();
  const std::string path = data_dir() + "/model-" + GetParam() + ".gguf";
  {
    // The file holds the types llama.cpp wrote, as gguf-py reads them (guards the goldens and our type ids).
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    const json::object& types = entry.at("types").as_object();
    ASSERT_EQ(types.size(), file->tensors().size());
    for (const GgufTensor& t : file->tensors()) {
      ASSERT_TRUE(types.contains(t.name)) << t.name;
      EXPECT_EQ(std::string(dtype_name(t.type)), std::string(types.at(t.name).as_string())) << t.name;
    }
  }
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto lm = create_causal_lm(std::move(file).value(), 2);
  ASSERT_TRUE(lm.ok()) << lm.status().to_string();
  const int vocab = (*lm)->config().vocab_size;
  int matches = 0, steps = 0;
  for (const auto& c : entry.at("cases").as_array()) {
    auto pool = KvPool::create((*lm)->config().n_layers, kBlocks, kBlockSize, (*lm)->config().kv_dim());
    ASSERT_TRUE(pool.ok());
    std::vector<int32_t> seq = ints(c.at("ids"));
    const std::vector<int32_t> greedy = ints(c.at("greedy"));
    const auto& top5 = c.at("top5").as_array();
    std::vector<float> logits(vocab);
    int start = 0;
    for (size_t step = 0; step < greedy.size(); ++step) {
      ForwardBatch batch;
      batch.add_sequence(std::span<const int32_t>(seq).subspan(start), start, scrambled_table(), kBlockSize, true);
      Status s = (*lm)->forward(batch, *pool, logits.data());
      ASSERT_TRUE(s.ok()) << s.to_string();
      start = static_cast<int>(seq.size());
      const int32_t ours = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const std::vector<int32_t> ref_top = ints(top5[step]);
      EXPECT_NE(std::find(ref_top.begin(), ref_top.end(), ours), ref_top.end())
          << GetParam() << " prompt of " << c.at("ids").as_array().size() << ", step " << step << ": our top-1 "
          << ours << " is not in the reference's top-5";
      matches += ours == greedy[step];
      ++steps;
      seq.push_back(greedy[step]);  // follow the reference's path
    }
  }
  std::printf("%s: top-1 equal to the reference's on %d of %d steps\n", GetParam().c_str(), matches, steps);
  EXPECT_EQ(steps, 4 * g.at("steps").as_int64());
}

INSTANTIATE_TEST_SUITE_P(LlamaCppQuantized, KQuantModel, ::testing::Values("q4_k_m", "q5_0", "q5_1"));

}  // namespace
}  // namespace podserve
