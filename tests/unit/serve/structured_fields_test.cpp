// response_format / structured_outputs / guided_* into a StructuredConstraint, with vLLM 0.32's messages
// (structured-tools.md §1.2): request-model errors at parse time, SamplingParams / backend errors from
// build_constraint (sent after the 200 when streaming).
#include <gtest/gtest.h>

#include "serve/openai/protocol.h"
#include "serve/openai/structured_fields.h"

namespace podserve::openai {
namespace {

std::string chat(const std::string& fields) {
  return R"({"messages":[{"role":"user","content":"hi"}],)" + fields + "}";
}

StructuredOutputsRequest parsed(const std::string& fields) {
  ApiResult<ChatRequest> r = parse_chat_request(chat(fields));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().status.message());
  return r.ok() ? r.value().common.structured : StructuredOutputsRequest{};
}

std::string parse_error(const std::string& fields) {
  ApiResult<ChatRequest> r = parse_chat_request(chat(fields));
  EXPECT_FALSE(r.ok()) << fields;
  return r.ok() ? "" : r.error().status.message();
}

std::string build_error(const std::string& fields) {
  ApiResult<StructuredConstraint> c = build_constraint(parsed(fields), {});
  EXPECT_FALSE(c.ok()) << fields;
  return c.ok() ? "" : c.error().status.message();
}

TEST(StructuredFieldsTest, KindsFromEveryField) {
  using Kind = StructuredConstraint::Kind;
  struct Case {
    const char* fields;
    Kind kind;
  };
  const Case cases[] = {
      {R"("response_format":{"type":"json_object"})", Kind::kJsonObject},
      {R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"},"strict":false}})",
       Kind::kJsonSchema},
      {R"("structured_outputs":{"json":"{\"type\":\"string\"}"})", Kind::kJsonSchema},
      {R"("structured_outputs":{"choice":["a","b"]})", Kind::kChoice},
      {R"("structured_outputs":{"grammar":"root ::= \"a\""})", Kind::kGrammar},
      {R"("structured_outputs":{"regex":"a+"})", Kind::kRegex},
      {R"("structured_outputs":{"json_object":true,"disable_any_whitespace":true})", Kind::kJsonObject},
      {R"("guided_json":{"type":"object"})", Kind::kJsonSchema},
      {R"("guided_choice":["x"],"guided_decoding_backend":"outlines")", Kind::kChoice},
      {R"("guided_grammar":"root ::= \"a\"")", Kind::kGrammar},
      {R"("guided_regex":"[0-9]")", Kind::kRegex},
      {R"("response_format":{"type":"text"})", Kind::kNone},
  };
  for (const Case& c : cases) {
    StructuredOutputsRequest r = parsed(c.fields);
    ApiResult<StructuredConstraint> built = build_constraint(r, {});
    if (c.kind == Kind::kChoice || c.kind == Kind::kGrammar || c.kind == Kind::kNone) {
      ASSERT_TRUE(built.ok()) << c.fields << ": " << built.error().status.message();
      EXPECT_EQ(built.value().kind, c.kind) << c.fields;
    } else {
      EXPECT_EQ(r.num_kinds(), 1) << c.fields;
    }
  }
  // response_format overrides; options go with the server config.
  ApiResult<StructuredConstraint> c = build_constraint(parsed(R"("guided_grammar":"root ::= \"a\"")"), {true, false});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.value().any_whitespace);
}

TEST(StructuredFieldsTest, RequestStageErrorsAreVllms) {
  EXPECT_EQ(parse_error(R"("response_format":{"type":"json_schema"})"),
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.");
  EXPECT_EQ(parse_error(R"("structured_outputs":{"json":"{}","regex":"a"})"),
            "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').");
  EXPECT_EQ(parse_error(R"("guided_json":"{}","guided_choice":["a"])"),
            "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').");
  EXPECT_EQ(parse_error(R"("structured_outputs":{"grammar":"root ::= \"a\"","json_object":true})")
                .rfind("You can only use one kind of structured outputs constraint but multiple are specified: ", 0),
            0u);
  EXPECT_EQ(parse_error(R"("structured_outputs":{})")
                .rfind("You must use one kind of structured outputs constraint but none are specified: ", 0),
            0u);
  EXPECT_NE(parse_error(R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}})").find("Field required"),
            std::string::npos);
  EXPECT_NE(parse_error(R"("structured_outputs":{"choice":"a"})").find("valid list"), std::string::npos);
  EXPECT_NE(parse_error(R"("response_format":"json")").find("response_format"), std::string::npos);
}

TEST(StructuredFieldsTest, EngineStageErrorsAreVllms) {
  EXPECT_EQ(build_error(R"("structured_outputs":{"choice":[]})"), "Choice '[]' cannot be an empty list");
  EXPECT_EQ(build_error(R"("structured_outputs":{"grammar":"  "})"),
            "structured_outputs.grammar cannot be an empty string");
  EXPECT_EQ(build_error(R"("structured_outputs":{"json":""})"), "structured_outputs.json cannot be an empty string");
  EXPECT_EQ(build_error(R"("structured_outputs":{"json_object":false})"),
            "structured_outputs.json_object must be True if set; omit structured_outputs to disable structured outputs");
  EXPECT_EQ(build_error(R"("structured_outputs":{"regex":"a\u0000"})"),
            "structured_outputs.regex must not contain a NUL character ('\\x00')");
  const std::string grammar = build_error(R"("structured_outputs":{"grammar":"root ::= [a"})");
  EXPECT_EQ(grammar.rfind("Invalid grammar specification.", 0), 0u) << grammar;
  EXPECT_NE(grammar.find("line 1, column"), std::string::npos) << grammar;
}

}  // namespace
}  // namespace podserve::openai
