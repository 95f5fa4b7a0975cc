// Model tier: beam search against vLLM 0.32.0's own (tests/data/beam_search.json, written by
// tools/goldens/beam_search.py: vLLM's BeamSearchOnlineMixin.beam_search driving transformers in float32 on the
// tiny random SmolLM2). podserve follows vLLM's beam search, not transformers' generate(num_beams=...): every EOS
// among a beam's 2 * width candidates finishes a beam, all max_tokens steps run (early_stopping has no effect),
// and the length penalty divides by the whole length, prompt included (engine/beam_search.h says more). The
// beams, their order, texts, finish reasons and cumulative logprobs must match; the engine's KV-cache invariants
// must hold after the forks the prefix cache shares. About a second.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/beam_search.h"
#include "engine/engine.h"
#include "model/loaded_model.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

/// The final update of each choice of one request.
class Finals {
 public:
  OutputCallback callback() {
    return [this](GenerationOutput out) {
      if (!out.finished) return;
      std::lock_guard<std::mutex> lock(mutex_);
      finals_[out.index] = std::move(out);
      cv_.notify_all();
    };
  }
  std::map<int, GenerationOutput> wait(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(120), [&] { return static_cast<int>(finals_.size()) >= n; });
    return finals_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int, GenerationOutput> finals_;
};

std::unique_ptr<Engine> tiny_smollm2_engine(int block_size) {
  Result<std::unique_ptr<LoadedModel>> model =
      load_model(testing::test_data_dir() + "/tiny_models/smollm2/f32", LoadOptions{.show_progress = false});
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return nullptr;
  EngineConfig config;
  config.max_model_len = 256;
  config.num_kv_blocks = 512;
  config.block_size = block_size;
  config.log_stats = false;
  Result<std::unique_ptr<Engine>> engine = Engine::create(std::move(*model), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? std::move(*engine) : nullptr;
}

std::vector<int32_t> ints(const json::value& v) {
  std::vector<int32_t> out;
  for (const json::value& x : v.as_array()) out.push_back(static_cast<int32_t>(x.to_number<int64_t>()));
  return out;
}

GenerationRequest beam_request(const json::object& c, const std::string& id) {
  GenerationRequest r;
  r.request_id = id;
  r.prompt_tokens = ints(c.at("prompt_token_ids"));
  r.params.use_beam_search = true;
  r.params.n = static_cast<int>(c.at("n").to_number<int64_t>());
  r.params.max_tokens = static_cast<int>(c.at("max_tokens").to_number<int64_t>());
  r.params.length_penalty = static_cast<float>(c.at("length_penalty").to_number<double>());
  r.params.ignore_eos = c.at("ignore_eos").as_bool();
  r.params.include_stop_str_in_output = c.at("include_stop_str_in_output").as_bool();
  r.params.temperature = 0.0f;
  return r;
}

class BeamSearchTest : public ::testing::TestWithParam<int> {};  // the KV block size

// All cases at once (one continuous batch of every beam of every request), as a server would run them.
TEST_P(BeamSearchTest, MatchesVllmBeamSearch) {
  const json::value doc = json::parse(testing::read_file(testing::test_data_dir() + "/beam_search.json"));
  const json::object& golden = doc.as_object();
  const json::array& cases = golden.at("cases").as_array();
  ASSERT_GE(cases.size(), 20u);
  std::unique_ptr<Engine> engine = tiny_smollm2_engine(GetParam());
  ASSERT_NE(engine, nullptr);
  ASSERT_EQ(engine->tokenizer().eos_id(), golden.at("eos_token_id").to_number<int64_t>());
  std::vector<Finals> finals(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(engine->submit(beam_request(cases[i].as_object(), "b" + std::to_string(i)), finals[i].callback()).ok());
  }
  int beams_checked = 0, eos_beams = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const json::array& want = cases[i].as_object().at("beams").as_array();
    const int n = static_cast<int>(cases[i].as_object().at("n").to_number<int64_t>());
    std::map<int, GenerationOutput> got = finals[i].wait(n);
    ASSERT_EQ(got.size(), static_cast<size_t>(n)) << "case " << i;
    ASSERT_LE(want.size(), static_cast<size_t>(n));
    for (size_t b = 0; b < want.size(); ++b) {
      const GenerationOutput& out = got.at(static_cast<int>(b));
      const json::object& w = want[b].as_object();
      EXPECT_EQ(out.token_ids, ints(w.at("token_ids"))) << "case " << i << " beam " << b;
      EXPECT_EQ(out.text_delta, std::string(w.at("text").as_string())) << "case " << i << " beam " << b;
      EXPECT_STREQ(finish_reason_name(out.finish_reason), w.at("finish_reason").as_string().c_str())
          << "case " << i << " beam " << b;
      EXPECT_NEAR(out.cumulative_logprob, w.at("cumulative_logprob").to_number<double>(), 1e-3)
          << "case " << i << " beam " << b;
      EXPECT_EQ(out.completion_tokens, static_cast<int>(out.token_ids.size()));
      eos_beams += out.finish_reason == FinishReason::kStop;
      ++beams_checked;
    }
  }
  EXPECT_GT(eos_beams, 0) << "no case exercises a beam ended by EOS";
  EXPECT_TRUE(engine->audit().ok());
  std::printf("%d beams of %zu requests match vLLM's (%d ended by EOS)\n", beams_checked, cases.size(), eos_beams);
}

// Block size 16 (the default) and 4: with 4, the beams of a step share several full blocks through the prefix
// cache and each recomputes only its last partial block.
INSTANTIATE_TEST_SUITE_P(BlockSizes, BeamSearchTest, ::testing::Values(16, 4));

// vLLM's get_beam_search_score: the length counts the prompt and drops a trailing EOS.
TEST(BeamSearchScoreTest, LengthPenaltyAsVllm) {
  EXPECT_DOUBLE_EQ(beam_search_score({5, 6, 7, 8}, -2.0, 2, 1.0), -0.5);
  EXPECT_DOUBLE_EQ(beam_search_score({5, 6, 7, 2}, -3.0, 2, 1.0), -1.0);
  EXPECT_DOUBLE_EQ(beam_search_score({5, 6, 7, 8}, -2.0, 2, 0.0), -2.0);
  EXPECT_DOUBLE_EQ(beam_search_score({5, 6, 7, 8}, -2.0, 2, 2.0), -0.125);
  EXPECT_DOUBLE_EQ(beam_search_score({2}, -1.0, 2, 1.0), -1.0);  // an empty beam counts as length 1
}

// An abort ends the search at its current step: every choice still gets its final update.
TEST(BeamSearchAbortTest, AbortFinishesEveryChoice) {
  std::unique_ptr<Engine> engine = tiny_smollm2_engine(16);
  ASSERT_NE(engine, nullptr);
  GenerationRequest r;
  r.request_id = "long";
  r.prompt_tokens = {5, 6, 7};
  r.params.use_beam_search = true;
  r.params.n = 3;
  r.params.max_tokens = 200;
  r.params.ignore_eos = true;
  Finals finals;
  ASSERT_TRUE(engine->submit(r, finals.callback()).ok());
  engine->abort("long");
  std::map<int, GenerationOutput> got = finals.wait(3);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& [index, out] : got) EXPECT_EQ(out.finish_reason, FinishReason::kAbort) << index;
  EXPECT_TRUE(engine->audit().ok());
}

// Each step asks for 2 * width logprobs, so the width is bounded by max_logprobs / 2 (vLLM's limit too).
TEST(BeamSearchAbortTest, WidthBeyondMaxLogprobsIsRefused) {
  std::unique_ptr<Engine> engine = tiny_smollm2_engine(16);
  ASSERT_NE(engine, nullptr);
  GenerationRequest r;
  r.request_id = "wide";
  r.prompt_tokens = {5, 6, 7};
  r.params.use_beam_search = true;
  r.params.n = 11;
  Finals finals;
  Status s = engine->submit(r, finals.callback());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("logprobs"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace podserve
