// /tokenize and /detokenize bodies, and the request fields added with them (continue_final_message,
// truncate_prompt_tokens, suffix, response_format), plus continue_final_message's prompt cut; error bodies that
// quote request bytes.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "serve/openai/errors.h"
#include "serve/openai/prompt_renderer.h"
#include "serve/openai/protocol.h"

namespace podserve::openai {
namespace {

TEST(TokenizeRequestTest, CompletionForm) {
  ApiResult<TokenizeRequest> r = parse_tokenize_request(R"({"prompt":"hi","return_token_strs":true})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_FALSE(r.value().is_chat);
  EXPECT_EQ(r.value().prompt, "hi");
  EXPECT_TRUE(r.value().add_special_tokens);
  EXPECT_TRUE(r.value().return_token_strs);
  r = parse_tokenize_request(R"({"prompt":"hi","add_special_tokens":false,"model":"m"})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().add_special_tokens);
  EXPECT_EQ(r.value().model, "m");
}

TEST(TokenizeRequestTest, ChatForm) {
  ApiResult<TokenizeRequest> r = parse_tokenize_request(
      R"({"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":false,"continue_final_message":true,
          "chat_template_kwargs":{"x":1}})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_TRUE(r.value().is_chat);
  EXPECT_FALSE(r.value().add_special_tokens);  // the template writes BOS
  EXPECT_FALSE(r.value().add_generation_prompt);
  EXPECT_TRUE(r.value().continue_final_message);
  EXPECT_EQ(r.value().messages.size(), 1u);
  EXPECT_TRUE(r.value().chat_template_kwargs.contains("x"));
}

TEST(TokenizeRequestTest, Errors) {
  EXPECT_FALSE(parse_tokenize_request("{}").ok());
  EXPECT_FALSE(parse_tokenize_request(R"({"prompt":5})").ok());
  EXPECT_FALSE(parse_tokenize_request("not json").ok());
  ApiResult<TokenizeRequest> r =
      parse_tokenize_request(R"({"messages":[{"role":"user","content":"hi"}],"continue_final_message":true})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.message(),
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
}

TEST(DetokenizeRequestTest, Parses) {
  ApiResult<DetokenizeRequest> r = parse_detokenize_request(R"({"tokens":[1,2,3.0]})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().tokens, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(parse_detokenize_request("{}").ok());
  EXPECT_FALSE(parse_detokenize_request(R"({"tokens":"abc"})").ok());
  r = parse_detokenize_request(R"({"tokens":[1,"a"]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "tokens");
}

TEST(RequestFieldsTest, ContinueFinalMessage) {
  const char* both = R"({"messages":[{"role":"assistant","content":"a"}],"continue_final_message":true})";
  ApiResult<ChatRequest> r = parse_chat_request(both);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.message(),
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
  r = parse_chat_request(
      R"({"messages":[{"role":"assistant","content":"a"}],"continue_final_message":true,"add_generation_prompt":false})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_TRUE(r.value().continue_final_message);
  EXPECT_FALSE(r.value().add_generation_prompt);
}

TEST(RequestFieldsTest, TruncateSuffixResponseFormat) {
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":"x","truncate_prompt_tokens":5})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().common.truncate_prompt_tokens, 5);
  r = parse_completion_request(R"({"prompt":"x","truncate_prompt_tokens":-1})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.truncate_prompt_tokens, -1);
  r = parse_completion_request(R"({"prompt":"x","truncate_prompt_tokens":-2})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "truncate_prompt_tokens");
  r = parse_completion_request(R"({"prompt":"x","suffix":"y"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.message(), "suffix is not currently supported");
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","suffix":""})").ok());
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","response_format":{"type":"text"}})").ok());
  r = parse_completion_request(R"({"prompt":"x","response_format":{"type":"json_object"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.structured.json_object, std::optional<bool>(true));
  r = parse_completion_request(R"({"prompt":"x","response_format":{"type":"json"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "response_format.type");
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","spaces_between_special_tokens":true})").ok());
}

TEST(RequestFieldsTest, EchoAllowsMaxTokensZero) {
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":"x","echo":true,"max_tokens":0})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_TRUE(r.value().common.echo);
  EXPECT_EQ(r.value().common.max_tokens, 0);
  r = parse_completion_request(R"({"prompt":"x","max_tokens":0})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "max_tokens");
  r = parse_completion_request(R"({"prompt":"x","echo":true,"logprobs":2,"max_tokens":0})");  // the prompt's logprobs
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().common.sampling.logprobs, 2);
}

TEST(RequestFieldsTest, PromptBatches) {
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":["a","b","c"]})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().prompt_text, "a");
  ASSERT_EQ(r.value().extra_prompts.size(), 2u);
  EXPECT_EQ(r.value().extra_prompts[1].text, "c");
  r = parse_completion_request(R"({"prompt":[[1,2],[3]]})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().prompt_tokens, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(r.value().extra_prompts.size(), 1u);
  EXPECT_TRUE(r.value().extra_prompts[0].is_tokens);
  EXPECT_EQ(r.value().extra_prompts[0].tokens, (std::vector<int64_t>{3}));
  EXPECT_FALSE(parse_completion_request(R"({"prompt":[[1],"a"]})").ok());
  EXPECT_FALSE(parse_completion_request(R"({"prompt":[[1],["a"]]})").ok());
}

TEST(CutAfterFinalMessageTest, TransformersRule) {
  // The template kept the message as is: cut right after it.
  Result<std::string> r = cut_after_final_message("<u>hi</u><a>Once upon</a>\n", "Once upon");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<u>hi</u><a>Once upon");
  // The template trimmed trailing whitespace: cut after the stripped text.
  r = cut_after_final_message("<a>Once upon</a>", "Once upon ");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<a>Once upon");
  // Trailing whitespace kept by the template stays.
  r = cut_after_final_message("<a>Once upon </a>", "Once upon ");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<a>Once upon ");
  // The last occurrence wins.
  r = cut_after_final_message("<u>x</u><a>x</a>", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<u>x</u><a>x");
  EXPECT_FALSE(cut_after_final_message("<a>other</a>", "missing").ok());
}

TEST(ErrorJsonTest, InvalidUtf8FromTheRequestBecomesReplacementCharacters) {
  // The HTTP server's 404 quotes the request path, which is bytes: the body must stay JSON that a strict parser
  // (Boost.JSON rejects invalid UTF-8) reads, with U+FFFD where the bytes were not UTF-8.
  const std::string body = error_json(404, "Route GET /v1/x\xff\xfe\xc3( not found", "a\xc3");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << body;
  EXPECT_EQ(v.at("error").at("message").as_string(), "Route GET /v1/x\uFFFD\uFFFD\uFFFD( not found");
  EXPECT_EQ(v.at("error").at("param").as_string(), "a\uFFFD");
  EXPECT_EQ(v.at("error").at("code").as_int64(), 404);
}

}  // namespace
}  // namespace podserve::openai
