// What the parser golden tests share (tool_parsers_test, harmony_output_test): reading a golden's ids, and comparing
// the message and finish_reason the server builds, and every streamed delta, with vLLM's.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <string>
#include <regex>
#include <span>
#include <vector>

#include "serve/openai/chat_output.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/protocol.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai::parser_goldens {

namespace json = boost::json;

/// One golden case ({request, reasoning_parser, tool_parser, chat_template_kwargs?, ...}): its request as the server
/// parses it, and an OutputParser made as the service makes one per choice.
struct GoldenCase {
  const json::object& c;
  const ParserVocab& vocab;
  ChatRequest request;
  std::vector<ToolSpec> specs;
  json::object kwargs;

  GoldenCase(const json::object& obj, const ParserVocab& v) : c(obj), vocab(v) {
    json::object body = c.at("request").as_object();
    body["model"] = "m";
    body["messages"] = json::array{json::object{{"role", "user"}, {"content", "hi"}}};
    ApiResult<ChatRequest> parsed = parse_chat_request(json::serialize(body));
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().status.message());
    if (parsed.ok()) request = std::move(parsed).value();
    specs = request.tools.value_or(std::vector<ToolSpec>{});
    if (const json::value* k = c.if_contains("chat_template_kwargs")) kwargs = k->as_object();
  }

  std::unique_ptr<OutputParser> parser() const {
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
      tools = f(ToolParserContext{&vocab, &specs});
    }
    return std::make_unique<OutputParser>(std::move(reasoning), std::move(tools),
                                          OutputParserOptions{request.tool_choice, request.include_reasoning});
  }
};

inline std::vector<int32_t> ids_of(const json::value& v) {
  std::vector<int32_t> out;
  for (const json::value& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

inline json::value opt_string(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

inline json::array calls_json(const std::vector<ExtractedCall>& calls) {
  json::array out;
  for (const ExtractedCall& c : calls) out.emplace_back(json::object{{"name", c.name}, {"arguments", c.arguments}});
  return out;
}

/// Random ids -> vLLM's placeholders, after checking their format (Mistral's: 9 letters and digits).
inline void normalize_ids(json::value& v) {
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

/// The message and finish_reason of a finished choice, for an engine that stopped on "stop" and on "length".
inline void expect_responses(const ChatToolSettings& settings, const std::function<ParsedOutput()>& parse,
                             const json::object& responses) {
  for (const auto& [finish_name, finish] :
       {std::pair{"stop", FinishReason::kStop}, std::pair{"length", FinishReason::kLength}}) {
    const json::object& resp = responses.at(finish_name).as_object();
    ChatChoiceResult r = chat_choice_message(settings, parse(), finish);
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

/// One golden stream ({steps: [{text, ids}], deltas}) through `p`, every delta compared.
inline void expect_stream(OutputParser& p, const json::object& stream, std::span<const int32_t> prompt) {
  const json::array& steps = stream.at("steps").as_array();
  const json::array& deltas = stream.at("deltas").as_array();
  ASSERT_EQ(steps.size(), deltas.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    std::optional<DeltaMessage> d =
        p.parse_delta(steps[i].at("text").as_string(), ids_of(steps[i].at("ids")), prompt, i + 1 == steps.size());
    json::value got = d ? json::value(delta_json(*d, false)) : json::value(nullptr);
    normalize_ids(got);
    EXPECT_EQ(got, deltas[i]) << "step " << i << " text " << steps[i].at("text");
  }
}

/// Every stream of a golden case ({name, prompt_ids, streams}), each through a fresh parser.
inline void expect_streams(const json::object& c, const std::function<std::unique_ptr<OutputParser>()>& make_parser) {
  const std::vector<int32_t> prompt = ids_of(c.at("prompt_ids"));
  int chunking = 0;
  for (const json::value& stream : c.at("streams").as_array()) {
    SCOPED_TRACE(std::string(c.at("name").as_string()) + " chunking " + std::to_string(chunking++));
    expect_stream(*make_parser(), stream.as_object(), prompt);
  }
}

}  // namespace podserve::openai::parser_goldens
