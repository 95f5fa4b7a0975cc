// Tool-call and reasoning parsers against vLLM 0.32.0's own (goldens from tools/goldens/tool_parsers.py): the
// whole-output parse, the reasoning token count, the message and finish_reason the server builds from them,
// and every streamed delta, for each output under two chunkings (one token per step, random groups).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <regex>

#include "serve/openai/chat_output.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/protocol.h"
#include "serve/openai/tools/partial_json.h"
#include "serve/openai/tools/tool_parsers.h"
#include "parser_goldens.h"
#include "test_util.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;
using namespace parser_goldens;  // NOLINT(google-build-using-namespace): the shared golden helpers

class MapVocab final : public ParserVocab {
 public:
  explicit MapVocab(const json::object& markers) {
    for (const auto& kv : markers) ids_[std::string(kv.key())] = static_cast<int32_t>(kv.value().as_int64());
  }
  std::optional<int32_t> token_id(std::string_view text) const override {
    auto it = ids_.find(std::string(text));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, int32_t> ids_;
};

const json::object& golden() {
  static const json::value v = json::parse(testing::read_file(testing::test_data_dir() + "/tool_parsers.json"));
  return v.as_object();
}

const MapVocab& vocab() {
  static const MapVocab v(golden().at("markers").as_object());
  return v;
}

/// A case's vocabulary: the shared markers, or one of the golden's named vocabularies (mistral's v11+ one).
const ParserVocab& vocab_of(const json::object& c) {
  static std::map<std::string, MapVocab, std::less<>> named;
  const json::value* name = c.if_contains("vocab");
  if (!name) return vocab();
  const std::string key(name->as_string());
  auto it = named.find(key);
  if (it == named.end()) it = named.try_emplace(key, golden().at("vocabs").at(key).as_object()).first;
  return it->second;
}

TEST(ToolParsers, GoldenCasesExist) { EXPECT_GE(golden().at("cases").as_array().size(), 60u); }

TEST(ToolParsers, WholeOutputMatchesVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    GoldenCase tc(item.as_object(), vocab_of(item.as_object()));
    SCOPED_TRACE(std::string(tc.c.at("name").as_string()));
    const json::object& want = tc.c.at("expected").as_object();
    std::unique_ptr<OutputParser> p = tc.parser();
    ParsedOutput got = p->parse(tc.c.at("output").as_string());
    EXPECT_EQ(opt_string(got.reasoning), want.at("reasoning"));
    EXPECT_EQ(opt_string(got.content), want.at("content"));
    EXPECT_EQ(got.calls ? json::value(calls_json(*got.calls)) : json::value(nullptr), want.at("calls"));
    EXPECT_EQ(p->count_reasoning_tokens(ids_of(tc.c.at("output_ids"))), want.at("reasoning_tokens").as_int64());
    // is_reasoning_end on the prompt, and on the prompt plus the output (what delays structured outputs).
    std::vector<int32_t> all = ids_of(tc.c.at("prompt_ids"));
    const std::vector<int32_t> out_ids = ids_of(tc.c.at("output_ids"));
    all.insert(all.end(), out_ids.begin(), out_ids.end());
    EXPECT_EQ(p->is_reasoning_end(ids_of(tc.c.at("prompt_ids"))), want.at("reasoning_end").at(0).as_bool());
    EXPECT_EQ(p->is_reasoning_end(all), want.at("reasoning_end").at(1).as_bool());

    ChatToolSettings settings{p->has_tool_parser(), tc.request.tools.has_value(), tc.request.tool_choice,
                              tc.request.parallel_tool_calls};
    expect_responses(settings, [&] { return p->parse(tc.c.at("output").as_string()); },
                     want.at("responses").as_object());
    if (tc.c.at("tool_parser") == "mistral") {  // Mistral's templates need 9-character ids back
      ChatChoiceResult r = chat_choice_message(settings, p->parse(tc.c.at("output").as_string()), FinishReason::kStop);
      for (const ExtractedCall& call : r.message.tool_calls) {
        EXPECT_TRUE(std::regex_match(call.id.value_or(""), std::regex("[A-Za-z0-9]{9}"))) << call.id.value_or("");
      }
    }
  }
}

TEST(ToolParsers, StreamedDeltasMatchVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    GoldenCase tc(item.as_object(), vocab_of(item.as_object()));
    expect_streams(tc.c, [&] { return tc.parser(); });
  }
}

// partial_json_parser's completion and vLLM's partial_json_loads on every prefix of a few texts (the
// streaming JSON parsers' view of partial calls).
TEST(ToolParsers, PartialJsonMatchesPartialJsonParser) {
  const json::array& cases = golden().at("partial_json").as_array();
  EXPECT_GE(cases.size(), 500u);
  for (const json::value& item : cases) {
    const json::object& c = item.as_object();
    const std::string_view text = c.at("text").as_string();
    const bool partial_strings = c.at("partial_strings").as_bool();
    SCOPED_TRACE(std::string(text) + (partial_strings ? " (partial strings)" : ""));
    std::optional<std::string> complete = partial_json_complete(text, partial_strings);
    EXPECT_EQ(complete ? json::value(json::string(*complete)) : json::value(nullptr), c.at("complete"));
    std::optional<PartialJson> loaded = partial_json_loads(text, partial_strings);
    const json::value& want = c.at("loads");
    if (want.is_array()) {
      ASSERT_TRUE(loaded.has_value());
      EXPECT_EQ(loaded->value, want.at(0));
      EXPECT_EQ(static_cast<int64_t>(loaded->end), want.at(1).as_int64());
    } else {
      EXPECT_FALSE(loaded.has_value());  // raises; or Python's NaN / Infinity, which boost.json does not read
    }
  }
}

// Outputs vLLM's pythonic parser fails on (SyntaxError, RecursionError: its `except Exception` makes them
// content) must not crash or hang ours: deep nesting, unterminated literals, bad escapes, stray closers. Streamed,
// the deep ones give nothing at any step (Python: "too many nested parentheses"); prefixes of the others may be
// valid calls.
TEST(ToolParsers, PythonicHostileOutputIsContent) {
  const std::string deep = "[f(a=" + std::string(100000, '[');
  const std::vector<std::string> outputs = {
      deep, deep + std::string(100000, ']') + ")]", "[f(a='\\x4')]", "[f(a='\\N{DASH}')]", "[f(a=1))]",
      "[f(a='unterminated)]", "[f(a=\"\"\"x)]", "[f(a=0x)]", "[f(a=1__0)]", "[f(a=b'x' 'y')]", "[f(a=)]"};
  for (const std::string& out : outputs) {
    std::unique_ptr<ToolParser> p = find_tool_parser("pythonic")(ToolParserContext{});
    const ExtractedToolCalls r = p->extract(out);
    EXPECT_FALSE(r.tools_called) << out.substr(0, 40);
    EXPECT_EQ(r.content, out);
    if (out.size() < 100000) continue;
    std::unique_ptr<ToolParser> s = find_tool_parser("pythonic")(ToolParserContext{});
    const std::string prefix = out.substr(0, std::min<size_t>(out.size(), 2000));
    for (size_t n = 300; n <= prefix.size(); n += 97) {  // 295 open brackets and more
      std::optional<DeltaMessage> d = s->extract_streaming(StreamStep{prefix.substr(0, n > 97 ? n - 97 : 0),
                                                                      std::string_view(prefix).substr(0, n),
                                                                      std::string_view(prefix).substr(n > 97 ? n - 97 : 0, n > 97 ? 97 : n),
                                                                      {}, {}, {}});
      EXPECT_TRUE(!d || d->tool_calls.empty()) << out.substr(0, 40);
    }
  }
}

TEST(ToolParsers, RegistryKnowsVllmNames) {
  for (const char* name : {"hermes", "qwen3_json", "deepseek_v3", "phi4_mini_json", "llama3_json", "llama4_json",
                           "pythonic", "qwen3_xml", "qwen3_coder", "granite"}) {
    EXPECT_NE(find_tool_parser(name), nullptr) << name;
  }
  EXPECT_EQ(find_tool_parser("no_such_parser"), nullptr);
  for (const char* name : {"deepseek_r1", "deepseek_v3", "granite", "mistral", "qwen3"}) {
    EXPECT_NE(find_reasoning_parser(name), nullptr) << name;
  }
}

}  // namespace
}  // namespace podserve::openai
