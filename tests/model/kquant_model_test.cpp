// Model tier for the formats of real Q4_K_M GGUFs: a tiny random llama (hidden and ffn 256, so every matrix is
// whole 256-blocks) quantized by llama.cpp's own quantizer to Q4_K_M (Q4_K + Q6_K), pure Q5_0 and pure Q5_1
// (tools/goldens/kquants.py). Reference: transformers on the weights as gguf-py dequantizes them. Along its
// greedy path our top-1 must be within its top-5 at every step (issue 3's rule for quantized formats, vLLM's
// check_logprobs_close); our matmuls also round activations to 8 bits (Q8_K / Q8_0, as llama.cpp).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/decoder.h"
#include "model/loaded_model.h"
#include "model/registry.h"
#include "model_checks.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

constexpr testing::ScrambledKv kKv{.block_size = 16, .blocks = 8};  // 128 positions: longest prompt (40) + 24 steps

std::string data_dir() { return testing::test_data_dir() + "/kquants"; }

class KQuantModel : public ::testing::TestWithParam<std::string> {};

TEST_P(KQuantModel, TopOneWithinReferenceTopFive) {
  const json::value g = testing::read_goldens(data_dir() + "/goldens.json");
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
  auto lm = testing::load_gguf_lm(path);
  ASSERT_NE(lm, nullptr);
  testing::PathTally tally;
  for (const auto& c : entry.at("cases").as_array()) {
    testing::expect_top1_within_reference_top5(*lm, kKv, c, GetParam(), tally);
  }
  std::printf("%s: top-1 equal to the reference's on %d of %d steps\n", GetParam().c_str(), tally.equal, tally.steps);
  EXPECT_EQ(tally.steps, 4 * g.at("steps").as_int64());
}

INSTANTIATE_TEST_SUITE_P(LlamaCppQuantized, KQuantModel, ::testing::Values("q4_k_m", "q5_0", "q5_1"));

}  // namespace
}  // namespace podserve
