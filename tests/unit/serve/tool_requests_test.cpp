// The request side of tool calling against vLLM 0.32.0 (goldens from tools/goldens/tool_requests.py): the tools /
// tool_choice validation of ChatCompletionRequest (message and parameter of each VLLMValidationError, or the
// tool_choice it settles on), and the constraint its parsers' adjust_request puts on the request: the exact
// JSON schema text for tool_choice required / named on parsers without a model format, and for those with one
// (Path B) the structural tag, compared as the grammar both tags lower to (the golden's tag carries pydantic's
// defaults written out, podserve's leaves them out).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "serve/openai/protocol.h"
#include "serve/openai/tool_constraint.h"
#include "serve/openai/tool_structural_tag.h"
#include "structured/structural_tag.h"
#include "serve/openai/tools/tool_parsers.h"
#include "test_util.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

const json::object& golden() {
  static const json::value v = json::parse(testing::read_file(testing::test_data_dir() + "/tool_requests.json"));
  return v.as_object();
}

/// Every marker a parser asks for is a token (the constraint does not depend on the vocabulary).
class AnyVocab final : public ParserVocab {
 public:
  std::optional<int32_t> token_id(std::string_view) const override { return 1; }
};

/// tool_choice as vLLM's model_dump shows it.
json::value choice_json(const ToolChoice& c) {
  switch (c.kind) {
    case ToolChoice::kNone: return "none";
    case ToolChoice::kAuto: return "auto";
    case ToolChoice::kRequired: return "required";
    case ToolChoice::kNull: return nullptr;
    case ToolChoice::kNamed:
      return json::object{{"function", json::object{{"name", c.name}}}, {"type", "function"}};
  }
  return nullptr;
}

TEST(ToolRequests, ValidationMatchesVllm) {
  const json::array& cases = golden().at("validation").as_array();
  EXPECT_GE(cases.size(), 30u);
  for (const json::value& item : cases) {
    const json::object& c = item.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    ApiResult<ChatRequest> r = parse_chat_request(json::serialize(c.at("body")));
    const json::object& want = c.at("result").as_object();
    if (const json::value* error = want.if_contains("error")) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().status.code(), StatusCode::kInvalidArgument);
      if (*error != "pydantic") {  // pydantic's own wording is not vLLM's to check here
        EXPECT_EQ(r.error().status.message(), error->as_string());
        EXPECT_EQ(r.error().param, want.at("param").as_string());
      }
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().status.message();
    EXPECT_EQ(choice_json(r.value().tool_choice), want.at("tool_choice"));
    EXPECT_EQ(r.value().parallel_tool_calls, want.at("parallel_tool_calls").as_bool());
    EXPECT_EQ(r.value().include_reasoning, want.at("include_reasoning").as_bool());
  }
}

TEST(ToolRequests, ConstraintsMatchVllm) {
  const json::array& cases = golden().at("constraints").as_array();
  EXPECT_GE(cases.size(), 100u);
  int schemas = 0, tags = 0, auto_tags = 0;
  for (const json::value& item : cases) {
    const json::object& c = item.as_object();
    const std::string body = json::serialize(c.at("body"));
    SCOPED_TRACE(std::string(c.at("tool_parser").as_string()) + " " + body);
    ApiResult<ChatRequest> r = parse_chat_request(body);
    ASSERT_TRUE(r.ok()) << r.error().status.message();
    const ChatRequest& req = r.value();
    ToolParserFactory factory = find_tool_parser(c.at("tool_parser").as_string());
    ASSERT_NE(factory, nullptr);
    AnyVocab vocab;
    ToolParserContext ctx{&vocab, nullptr};
    const bool path_a = factory(ctx)->supports_required_and_named();
    const json::object& want = c.at("result").as_object();
    if (c.at("tool_parser") == "mistral") {
      std::optional<std::string> got = mistral_tool_choice_json_schema(req.tools, req.tool_choice);
      EXPECT_EQ(got ? json::value(json::string(*got)) : json::value(nullptr), want.at("json"));
      schemas += got.has_value();
      continue;
    }
    // A parser with a model format gets a structural tag (Path B) and no schema.
    if (!path_a) {
      EXPECT_TRUE(want.if_contains("error") == nullptr && want.at("json").is_null());
      std::optional<std::string> got = tool_choice_structural_tag(
          structural_tag_model(std::string(c.at("tool_parser").as_string())), req.tools, req.tool_choice,
          req.parallel_tool_calls);
      // auto gets a tag in vLLM only with parallel_tool_calls false or a strict tool; none never does.
      ASSERT_EQ(got.has_value(), want.at("structural_tag").as_bool());
      if (!got) continue;
      auto_tags += req.tool_choice.kind == ToolChoice::kAuto;
      Result<structured::Grammar> theirs = structured::structural_tag_grammar(want.at("tag").as_string());
      Result<structured::Grammar> ours = structured::structural_tag_grammar(*got);
      ASSERT_TRUE(theirs.ok()) << theirs.status().message();
      ASSERT_TRUE(ours.ok()) << ours.status().message();
      EXPECT_EQ(ours->to_ebnf(), theirs->to_ebnf()) << *got << "\n" << want.at("tag").as_string();
      ++tags;
      continue;
    }
    ApiResult<std::optional<std::string>> got = tool_choice_json_schema(req.tools, req.tool_choice,
                                                                         req.parallel_tool_calls);
    if (const json::value* error = want.if_contains("error")) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.error().status.message(), error->as_string());
      EXPECT_EQ(got.error().param, want.at("param").as_string());
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.error().status.message();
    EXPECT_FALSE(want.at("structural_tag").as_bool());
    if (want.at("json").is_null()) {
      EXPECT_FALSE(got.value().has_value());
    } else {
      ++schemas;
      ASSERT_TRUE(got.value().has_value());
      EXPECT_EQ(*got.value(), want.at("json").as_string());
    }
  }
  EXPECT_GE(schemas, 30);
  EXPECT_GE(tags, 50);
  EXPECT_EQ(auto_tags, 27);  // auto with parallel_tool_calls false (any tools) or a strict tool, 3 tag parsers
}

}  // namespace
}  // namespace podserve::openai
