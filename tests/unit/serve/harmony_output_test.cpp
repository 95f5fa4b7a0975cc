// gpt-oss's harmony output (`--tool-call-parser openai`, `--reasoning-parser openai_gptoss`) against vLLM 0.32.0's
// own HarmonyParser on gpt-oss's token ids (goldens from tools/goldens/harmony_parser.py): the whole-output parse,
// the reasoning token count, the message and finish_reason the server builds, and every streamed delta under two
// chunkings (one token per step, random groups).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "serve/openai/chat_output.h"
#include "serve/openai/harmony_output.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/protocol.h"
#include "serve/openai/tools/tool_parsers.h"
#include "parser_goldens.h"
#include "test_util.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;
using namespace parser_goldens;  // NOLINT(google-build-using-namespace): the shared golden helpers

const json::object& golden() {
  static const json::value v = json::parse(testing::read_file(testing::test_data_dir() + "/harmony_parser.json"));
  return v.as_object();
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

/// gpt-oss's vocabulary, as far as the goldens use it.
class GoldenVocab final : public ParserVocab {
 public:
  GoldenVocab() {
    for (const auto& kv : golden().at("specials").as_object()) {
      ids_[std::string(kv.key())] = static_cast<int32_t>(kv.value().as_int64());
    }
    for (const auto& kv : golden().at("token_bytes").as_object()) {
      bytes_[std::stoi(std::string(kv.key()))] = unhex(kv.value().as_string());
    }
    for (const json::value& id : golden().at("special_ids").as_array()) special_.insert(static_cast<int32_t>(id.as_int64()));
  }
  std::optional<int32_t> token_id(std::string_view text) const override {
    auto it = ids_.find(std::string(text));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  std::string token_bytes(int32_t id) const override {
    auto it = bytes_.find(id);
    EXPECT_NE(it, bytes_.end()) << id;
    return it == bytes_.end() ? std::string() : it->second;
  }
  bool is_special(int32_t id) const override { return special_.contains(id); }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string out;
    for (int32_t id : ids) out += token_bytes(id);
    return out;  // the goldens' recovered texts are whole UTF-8
  }

 private:
  std::map<std::string, int32_t> ids_;
  std::map<int32_t, std::string> bytes_;
  std::set<int32_t> special_;
};

const GoldenVocab& vocab() {
  static const GoldenVocab v;
  return v;
}

TEST(HarmonyOutput, GoldenCasesExist) { EXPECT_GE(golden().at("cases").as_array().size(), 30u); }

TEST(HarmonyOutput, WholeOutputMatchesVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    GoldenCase tc(item.as_object(), vocab());
    SCOPED_TRACE(std::string(tc.c.at("name").as_string()));
    const json::object& want = tc.c.at("expected").as_object();
    const std::vector<int32_t> out_ids = ids_of(tc.c.at("output_ids"));
    std::unique_ptr<OutputParser> p = tc.parser();
    ParsedOutput got = p->parse(tc.c.at("output").as_string(), out_ids);
    EXPECT_EQ(opt_string(got.reasoning), want.at("reasoning"));
    EXPECT_EQ(opt_string(got.content), want.at("content"));
    EXPECT_EQ(got.calls ? json::value(calls_json(*got.calls)) : json::value(nullptr), want.at("calls"));
    EXPECT_EQ(p->count_reasoning_tokens(out_ids), want.at("reasoning_tokens").as_int64());
    std::vector<int32_t> all = ids_of(tc.c.at("prompt_ids"));
    all.insert(all.end(), out_ids.begin(), out_ids.end());
    EXPECT_EQ(p->is_reasoning_end(ids_of(tc.c.at("prompt_ids"))), want.at("reasoning_end").at(0).as_bool());
    EXPECT_EQ(p->is_reasoning_end(all), want.at("reasoning_end").at(1).as_bool());

    ChatToolSettings settings{p->has_tool_parser(), tc.request.tools.has_value(), tc.request.tool_choice,
                              tc.request.parallel_tool_calls};
    expect_responses(settings, [&] { return tc.parser()->parse("", out_ids); }, want.at("responses").as_object());
  }
}

TEST(HarmonyOutput, StreamedDeltasMatchVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    GoldenCase tc(item.as_object(), vocab());
    expect_streams(tc.c, [&] { return tc.parser(); });
  }
}

// Hostile output must not crash or hang: every token id the vocabulary knows, in any order, whole and streamed.
TEST(HarmonyOutput, ShuffledTokensNeverCrash) {
  GoldenVocab vocab;
  std::vector<int32_t> ids;
  for (const auto& kv : golden().at("token_bytes").as_object()) ids.push_back(std::stoi(std::string(kv.key())));
  std::mt19937 rng(15);
  for (int round = 0; round < 200; ++round) {
    std::shuffle(ids.begin(), ids.end(), rng);
    const std::span<const int32_t> out(ids.data(), static_cast<size_t>(rng() % ids.size()));
    std::vector<ToolSpec> specs;
    auto make = [&] {
      return std::make_unique<OutputParser>(
          find_reasoning_parser("openai_gptoss")(ReasoningParserContext{&vocab, nullptr}).value(),
          find_tool_parser("openai")(ToolParserContext{&vocab, &specs}), OutputParserOptions{});
    };
    ParsedOutput whole = make()->parse("", out);
    std::string streamed_content;
    std::unique_ptr<OutputParser> s = make();
    for (size_t i = 0; i < out.size(); ++i) {
      std::optional<DeltaMessage> d = s->parse_delta("", out.subspan(i, 1), {}, i + 1 == out.size());
      if (d && d->content.has_value()) streamed_content += *d->content.value;
    }
    // Content messages join with "\n" whole, and stream as they come: the streamed text holds every piece.
    for (size_t at = 0; whole.content && at < whole.content->size();) {
      const size_t nl = whole.content->find('\n', at);
      const std::string piece = whole.content->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      EXPECT_NE(streamed_content.find(piece), std::string::npos) << piece;
      at = nl == std::string::npos ? whole.content->size() : nl + 1;
    }
  }
}

TEST(HarmonyOutput, RegistryAndVocabularyCheck) {
  EXPECT_NE(find_tool_parser("openai"), nullptr);
  EXPECT_NE(find_reasoning_parser("openai_gptoss"), nullptr);
  const std::vector<std::string_view> required = tool_parser_required_tokens("openai");
  EXPECT_EQ(required.size(), 6u);
  // A vocabulary without the harmony tokens (SmolLM2's, Qwen3's) cannot be parsed: a start-up error.
  class Empty final : public ParserVocab {
    std::optional<int32_t> token_id(std::string_view) const override { return std::nullopt; }
  } empty;
  auto r = find_reasoning_parser("openai_gptoss")(ReasoningParserContext{&empty, nullptr});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("<|channel|>"), std::string::npos);
}

}  // namespace
}  // namespace podserve::openai
