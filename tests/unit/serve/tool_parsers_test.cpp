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
#include "test_util.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

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

std::vector<int32_t> ids_of(const json::value& v) {
  std::vector<int32_t> out;
  for (const json::value& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

json::value opt_string(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

json::array calls_json(const std::vector<ExtractedCall>& calls) {
  json::array out;
  for (const ExtractedCall& c : calls) out.emplace_back(json::object{{"name", c.name}, {"arguments", c.arguments}});
  return out;
}

/// Random ids -> vLLM's placeholders, after checking their format (Mistral's: 9 letters and digits).
void normalize_ids(json::value& v) {
  static const std::regex kId("chatcmpl-tool-[0-9a-f]{16}");
  static const std::regex kMistralId("[A-Za-z0-9]{9}");
  if (v.is_object()) {
    for (auto& kv : v.as_object()) {
      if (kv.key() == "id" && kv.value().is_string()) {
        const std::string id(kv.value().as_string());
        const bool mistral = std::regex_match(id, kMistralId);
        EXPECT_TRUE(mistral || std::regex_match(id, kId)) << kv.value();
        kv.value() = mistral ? "<mistral-tool-id>" : "<chatcmpl-tool-id>";
      } else {
        normalize_ids(kv.value());
      }
    }
  } else if (v.is_array()) {
    for (json::value& x : v.as_array()) normalize_ids(x);
  }
}

struct Case {
  const json::object& c;
  MapVocab vocab;
  ChatRequest request;
  json::object kwargs;

  explicit Case(const json::object& obj)
      : c(obj),
        vocab(obj.contains("vocab") ? golden().at("vocabs").at(obj.at("vocab").as_string()).as_object()
                                    : golden().at("markers").as_object()) {
    json::object body = c.at("request").as_object();
    body["model"] = "m";
    body["messages"] = json::array{json::object{{"role", "user"}, {"content", "hi"}}};
    ApiResult<ChatRequest> parsed = parse_chat_request(json::serialize(body));
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().status.message());
    if (parsed.ok()) request = std::move(parsed).value();
    kwargs = c.at("chat_template_kwargs").as_object();
  }

  std::unique_ptr<OutputParser> parser() {
    std::unique_ptr<ReasoningParser> reasoning;
    if (c.at("reasoning_parser").is_string()) {
      ReasoningParserFactory f = find_reasoning_parser(c.at("reasoning_parser").as_string());
      EXPECT_NE(f, nullptr);
      auto r = f(ReasoningParserContext{&vocab, &kwargs});
      EXPECT_TRUE(r.ok());
      reasoning = std::move(r).value();
    }
    std::unique_ptr<ToolParser> tools;
    if (c.at("tool_parser").is_string()) {
      ToolParserFactory f = find_tool_parser(c.at("tool_parser").as_string());
      EXPECT_NE(f, nullptr);
      std::vector<ToolSpec> specs = request.tools.value_or(std::vector<ToolSpec>{});
      tools = f(ToolParserContext{&vocab, &specs});
    }
    return std::make_unique<OutputParser>(std::move(reasoning), std::move(tools),
                                          OutputParserOptions{request.tool_choice, request.include_reasoning});
  }
};

TEST(ToolParsers, GoldenCasesExist) { EXPECT_GE(golden().at("cases").as_array().size(), 60u); }

TEST(ToolParsers, WholeOutputMatchesVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    Case tc(item.as_object());
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
    for (const auto& [finish_name, finish] :
         {std::pair{"stop", FinishReason::kStop}, std::pair{"length", FinishReason::kLength}}) {
      const json::object& resp = want.at("responses").at(finish_name).as_object();
      ChatChoiceResult r = chat_choice_message(settings, p->parse(tc.c.at("output").as_string()), finish);
      if (tc.c.at("tool_parser") == "mistral") {  // Mistral's templates need 9-character ids back
        for (const ExtractedCall& call : r.message.tool_calls) {
          EXPECT_TRUE(std::regex_match(call.id.value_or(""), std::regex("[A-Za-z0-9]{9}"))) << call.id.value_or("");
        }
      }
      const json::object& msg = resp.at("message").as_object();
      EXPECT_EQ(opt_string(r.message.content), msg.at("content")) << finish_name;
      EXPECT_EQ(opt_string(r.message.reasoning), msg.at("reasoning")) << finish_name;
      const json::value* calls = msg.if_contains("tool_calls");
      EXPECT_EQ(json::value(calls_json(r.message.tool_calls)), calls ? *calls : json::value(json::array()))
          << finish_name;
      EXPECT_EQ(json::value(json::string(r.finish_override.value_or(finish_name))), resp.at("finish_reason"))
          << finish_name;
    }
  }
}

TEST(ToolParsers, StreamedDeltasMatchVllm) {
  for (const json::value& item : golden().at("cases").as_array()) {
    Case tc(item.as_object());
    const std::vector<int32_t> prompt = ids_of(tc.c.at("prompt_ids"));
    int chunking = 0;
    for (const json::value& stream : tc.c.at("streams").as_array()) {
      SCOPED_TRACE(std::string(tc.c.at("name").as_string()) + " chunking " + std::to_string(chunking++));
      std::unique_ptr<OutputParser> p = tc.parser();
      const json::array& steps = stream.at("steps").as_array();
      const json::array& deltas = stream.at("deltas").as_array();
      ASSERT_EQ(steps.size(), deltas.size());
      for (size_t i = 0; i < steps.size(); ++i) {
        std::optional<DeltaMessage> d = p->parse_delta(steps[i].at("text").as_string(), ids_of(steps[i].at("ids")),
                                                       prompt, i + 1 == steps.size());
        json::value got = d ? json::value(delta_json(*d, false)) : json::value(nullptr);
        normalize_ids(got);
        EXPECT_EQ(got, deltas[i]) << "step " << i << " text " << steps[i].at("text");
      }
    }
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
  for (const char* name : {"deepseek_r1", "deepseek_v3", "granite", "qwen3"}) {
    EXPECT_NE(find_reasoning_parser(name), nullptr) << name;
  }
}

}  // namespace
}  // namespace podserve::openai
