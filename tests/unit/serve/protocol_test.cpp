#include "serve/openai/protocol.h"

#include <gtest/gtest.h>

#include "serve/openai/sampling_fields.h"

namespace podserve::openai {
namespace {

constexpr const char* kMessages = R"("messages":[{"role":"user","content":"hi"}])";

/// A chat body with the standard messages plus `extra` fields (e.g. R"("temperature":0)").
std::string chat_body(const std::string& extra = "") {
  std::string body = "{";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "literal" + string
  body += kMessages;
  if (!extra.empty()) body += "," + extra;
  body += "}";
  return body;
}

struct Expected {
  int http;
  std::string param;
  std::string message_part;
};

void expect_chat_error(const std::string& body, const Expected& want) {
  ApiResult<ChatRequest> r = parse_chat_request(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(http_status_for(r.error().status.code()), want.http) << body;
  EXPECT_EQ(r.error().param, want.param) << body << " -> " << r.error().status.message();
  EXPECT_NE(r.error().status.message().find(want.message_part), std::string::npos)
      << body << " -> " << r.error().status.message();
}

void expect_completion_error(const std::string& body, const Expected& want) {
  ApiResult<CompletionRequest> r = parse_completion_request(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(http_status_for(r.error().status.code()), want.http) << body;
  EXPECT_EQ(r.error().param, want.param) << body << " -> " << r.error().status.message();
  EXPECT_NE(r.error().status.message().find(want.message_part), std::string::npos)
      << body << " -> " << r.error().status.message();
}

TEST(ChatRequestTest, MinimalDefaults) {
  ApiResult<ChatRequest> r = parse_chat_request(chat_body());
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  const ChatRequest& c = r.value();
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].role, "user");
  EXPECT_EQ(c.messages[0].content, "hi");
  EXPECT_TRUE(c.add_generation_prompt);
  EXPECT_FALSE(c.add_special_tokens);
  EXPECT_FALSE(c.common.model.has_value());
  EXPECT_FALSE(c.common.max_tokens.has_value());
  EXPECT_FALSE(c.common.stream);
  EXPECT_FLOAT_EQ(c.common.sampling.temperature, 1.0f);
  EXPECT_TRUE(c.common.ignored_fields.empty());
}

TEST(ChatRequestTest, AllSupportedFields) {
  ApiResult<ChatRequest> r = parse_chat_request(R"({
    "model": "m", "messages": [
      {"role": "system", "content": null},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "bob"}],
    "temperature": 0.5, "top_p": 0.9, "top_k": -1, "max_tokens": 10, "max_completion_tokens": 12,
    "min_tokens": 2, "n": 1, "seed": -3, "stop": ["x", "", "y"], "stop_token_ids": [1, 2], "stream": true,
    "stream_options": {"continuous_usage_stats": true}, "ignore_eos": true, "skip_special_tokens": false,
    "include_stop_str_in_output": true, "add_generation_prompt": false, "add_special_tokens": true,
    "chat_template_kwargs": {"enable_thinking": false}, "user": "u", "logprobs": false,
    "tool_choice": "none", "response_format": {"type": "text"}, "frequency_penalty": 0, "request_id": "abc",
    "my_extra": 1})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  const ChatRequest& c = r.value();
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_FALSE(c.messages[0].content.has_value());
  EXPECT_EQ(c.messages[1].content, "a\nb");
  EXPECT_EQ(c.messages[1].extra.at("name").as_string(), "bob");
  EXPECT_EQ(c.common.model, "m");
  EXPECT_FLOAT_EQ(c.common.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(c.common.sampling.top_p, 0.9f);
  EXPECT_EQ(c.common.sampling.top_k, 0);
  EXPECT_EQ(c.common.max_tokens, 12);  // max_completion_tokens wins
  EXPECT_EQ(c.common.sampling.min_tokens, 2);
  EXPECT_EQ(c.common.sampling.seed, static_cast<uint64_t>(int64_t{-3}));
  EXPECT_EQ(c.common.sampling.stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c.common.sampling.stop_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(c.common.stream);
  EXPECT_TRUE(c.common.include_usage);  // default true inside stream_options
  EXPECT_TRUE(c.common.continuous_usage);
  EXPECT_TRUE(c.common.sampling.ignore_eos);
  EXPECT_FALSE(c.common.sampling.skip_special_tokens);
  EXPECT_TRUE(c.common.sampling.include_stop_str_in_output);
  EXPECT_FALSE(c.add_generation_prompt);
  EXPECT_TRUE(c.add_special_tokens);
  EXPECT_FALSE(c.chat_template_kwargs.at("enable_thinking").as_bool());
  EXPECT_EQ(c.common.request_id, "abc");
  EXPECT_EQ(c.common.ignored_fields, (std::vector<std::string>{"my_extra"}));
}

TEST(ChatRequestTest, StopAsString) {
  ApiResult<ChatRequest> r = parse_chat_request(chat_body(R"("stop":"END")"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.sampling.stop, (std::vector<std::string>{"END"}));
}

TEST(ChatRequestTest, MalformedBodies) {
  expect_chat_error("{not json", {400, "", "Malformed JSON"});
  expect_chat_error("", {400, "", "Malformed JSON"});
  expect_chat_error("[1,2]", {400, "", "JSON object"});
}

TEST(ChatRequestTest, MessagesValidation) {
  expect_chat_error("{}", {400, "messages", "required"});
  expect_chat_error(R"({"messages":"hi"})", {400, "messages", "expected a list"});
  expect_chat_error(R"({"messages":[]})", {400, "messages", "at least one"});
  expect_chat_error(R"({"messages":[1]})", {400, "messages[0]", "expected an object"});
  expect_chat_error(R"({"messages":[{"content":"x"}]})", {400, "messages[0].role", "role"});
  expect_chat_error(R"({"messages":[{"role":"user","content":5}]})", {400, "messages[0].content", "content"});
  expect_chat_error(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
                    {400, "messages[0].content", "image_url"});
  expect_chat_error(R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})",
                    {400, "messages[0].content", "text"});
}

TEST(ChatRequestTest, SamplingValidation) {
  expect_chat_error(chat_body(R"("temperature":"hot")"), {400, "temperature", "expected a number, got string"});
  expect_chat_error(chat_body(R"("temperature":-0.1)"), {400, "temperature", "non-negative"});
  expect_chat_error(chat_body(R"("top_p":0)"), {400, "top_p", "(0, 1]"});
  expect_chat_error(chat_body(R"("top_p":1.5)"), {400, "top_p", "(0, 1]"});
  expect_chat_error(chat_body(R"("top_k":-2)"), {400, "top_k", "top_k must be 0 (disable), or at least 1"});
  expect_chat_error(chat_body(R"("top_k":1.5)"), {400, "top_k", "expected an integer"});
  expect_chat_error(chat_body(R"("max_tokens":-1)"), {400, "max_tokens", "at least 1"});
  expect_chat_error(chat_body(R"("max_tokens":0)"), {400, "max_tokens", "at least 1"});
  expect_chat_error(chat_body(R"("max_completion_tokens":0)"), {400, "max_completion_tokens", "at least 1"});
  expect_chat_error(chat_body(R"("max_tokens":"10")"), {400, "max_tokens", "expected an integer"});
  expect_chat_error(chat_body(R"("min_tokens":-1)"), {400, "min_tokens", "greater than or equal to 0"});
  expect_chat_error(chat_body(R"("max_tokens":2,"min_tokens":3)"), {400, "min_tokens", "max_tokens=2"});
  expect_chat_error(chat_body(R"("seed":"x")"), {400, "seed", "expected an integer"});
  expect_chat_error(chat_body(R"("stop":5)"), {400, "stop", "a string or a list of strings"});
  expect_chat_error(chat_body(R"("stop":["a",1])"), {400, "stop", "a string or a list of strings"});
  expect_chat_error(chat_body(R"("stop_token_ids":[-1])"), {400, "stop_token_ids", "valid token ids"});
  expect_chat_error(chat_body(R"("stop_token_ids":"1")"), {400, "stop_token_ids", "list of integers"});
  expect_chat_error(chat_body(R"("stream":"yes")"), {400, "stream", "expected a boolean"});
  expect_chat_error(chat_body(R"("ignore_eos":1)"), {400, "ignore_eos", "expected a boolean"});
  expect_chat_error(chat_body(R"("n":0)"), {400, "n", "at least 1"});
  expect_chat_error(chat_body(R"("model":5)"), {400, "model", "expected a string"});
}

TEST(ChatRequestTest, StreamOptionsNeedStream) {
  expect_chat_error(chat_body(R"("stream_options":{"include_usage":true})"),
                    {400, "stream_options", "Stream options can only be defined when `stream=True`."});
  expect_chat_error(chat_body(R"("stream":true,"stream_options":{"include_usage":"y"})"),
                    {400, "stream_options.include_usage", "expected a boolean"});
  ApiResult<ChatRequest> r = parse_chat_request(chat_body(R"("stream":true,"stream_options":{"include_usage":false})"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().common.include_usage);
}

TEST(ChatRequestTest, UnsupportedFieldsAreNamed) {
  expect_chat_error(chat_body(R"("kv_transfer_params":{"a":1})"), {400, "kv_transfer_params", "not supported"});
  expect_chat_error(chat_body(R"("tools":[])"), {400, "tools", "must not be an empty array"});
  expect_chat_error(chat_body(R"("tool_choice":"required")"), {400, "tool_choice", "`tools` must be set"});
  EXPECT_TRUE(parse_chat_request(chat_body(R"("echo":true)")).ok());
  // Neutral values of unsupported fields ask for nothing and are accepted.
  EXPECT_TRUE(parse_chat_request(chat_body(R"("use_beam_search":false,"echo":false)")).ok());
}

// Beam search's fields, and the combinations vLLM 0.32 refuses (its CompletionRequest.check_logprobs and
// OpenAIServingCompletion's streaming check; chat may stream it).
TEST(ChatRequestTest, BeamSearchFields) {
  ApiResult<ChatRequest> r =
      parse_chat_request(chat_body(R"("use_beam_search":true,"n":3,"length_penalty":0.5,"early_stopping":true)"));
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_TRUE(r.value().common.sampling.use_beam_search);
  EXPECT_EQ(r.value().common.sampling.n, 3);
  EXPECT_FLOAT_EQ(r.value().common.sampling.length_penalty, 0.5f);
  EXPECT_TRUE(parse_chat_request(chat_body(R"("use_beam_search":true,"stream":true)")).ok());
  expect_chat_error(chat_body(R"("use_beam_search":1)"), {400, "use_beam_search", "boolean"});
  expect_chat_error(chat_body(R"("length_penalty":"x")"), {400, "length_penalty", "number"});
  expect_completion_error(R"({"prompt":"a","use_beam_search":true,"stream":true})",
                          {400, "", "Streaming is not currently supported with beam search"});
  expect_completion_error(R"({"prompt":"a","use_beam_search":true,"echo":true,"logprobs":0})",
                          {400, "echo", "`echo` with `logprobs` is not supported with beam search"});
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"a","use_beam_search":true,"echo":true})").ok());
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"a","use_beam_search":false,"stream":true})").ok());
}

TEST(ChatRequestTest, ChoicesPenaltiesAndBias) {
  ApiResult<ChatRequest> r = parse_chat_request(chat_body(
      R"("n":3,"best_of":5,"min_p":0.1,"presence_penalty":-2,"frequency_penalty":1.5,"repetition_penalty":1.2,)"
      R"("logit_bias":{"5":1,"17":-250.5,"9":100})"));
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  const SamplingParams& s = r.value().common.sampling;
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.best_of, 5);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_FLOAT_EQ(s.presence_penalty, -2.0f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, 1.5f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.2f);
  // Biases are clamped to [-100, 100] as vLLM does.
  EXPECT_EQ(s.logit_bias, (std::vector<std::pair<int32_t, float>>{{5, 1.0f}, {17, -100.0f}, {9, 100.0f}}));
  EXPECT_TRUE(r.value().common.ignored_fields.empty());

  r = parse_chat_request(chat_body(R"("n":2)"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.sampling.best_of, 2);  // best_of defaults to n

  expect_chat_error(chat_body(R"("n":0)"), {400, "n", "n must be at least 1, got 0."});
  expect_chat_error(chat_body(R"("n":3,"best_of":2)"),
                    {400, "best_of", "best_of must be greater than or equal to n, got n=3 and best_of=2."});
  expect_chat_error(chat_body(R"("n":100000)"), {400, "n", "at most"});
  expect_chat_error(chat_body(R"("best_of":3,"stream":true)"), {400, "best_of", "stream"});
  expect_chat_error(chat_body(R"("min_p":2)"), {400, "min_p", "min_p must be in [0, 1], got 2."});
  expect_chat_error(chat_body(R"("min_p":-0.5)"), {400, "min_p", "[0, 1]"});
  expect_chat_error(chat_body(R"("presence_penalty":2.5)"),
                    {400, "presence_penalty", "presence_penalty must be in [-2, 2], got 2.5."});
  expect_chat_error(chat_body(R"("frequency_penalty":-3)"), {400, "frequency_penalty", "[-2, 2]"});
  expect_chat_error(chat_body(R"("repetition_penalty":0)"),
                    {400, "repetition_penalty", "repetition_penalty must be greater than zero, got 0."});
  expect_chat_error(chat_body(R"("logit_bias":{"abc":1})"), {400, "logit_bias", "token_id must be an integer"});
  expect_chat_error(chat_body(R"("logit_bias":{"-1":1})"), {400, "logit_bias", "out-of-vocab"});
  expect_chat_error(chat_body(R"("logit_bias":{"1":"x"})"), {400, "logit_bias", "expected an object of numbers"});
  expect_chat_error(chat_body(R"("logit_bias":[1])"), {400, "logit_bias", "expected an object"});
}

TEST(ChatRequestTest, Logprobs) {
  ApiResult<ChatRequest> r = parse_chat_request(chat_body(R"("logprobs":true,"top_logprobs":5)"));
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().common.sampling.logprobs, 5);
  r = parse_chat_request(chat_body(R"("logprobs":true)"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.sampling.logprobs, 0);  // only the chosen token's
  r = parse_chat_request(chat_body(R"("logprobs":false,"top_logprobs":0,"prompt_logprobs":3)"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().common.sampling.logprobs.has_value());
  EXPECT_EQ(r.value().common.sampling.prompt_logprobs, 3);

  expect_chat_error(chat_body(R"("top_logprobs":2)"),
                    {400, "top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true."});
  expect_chat_error(chat_body(R"("logprobs":true,"top_logprobs":-2)"),
                    {400, "top_logprobs", "must be a positive value"});
  expect_chat_error(chat_body(R"("logprobs":1)"), {400, "logprobs", "expected a boolean"});
  expect_chat_error(chat_body(R"("prompt_logprobs":1,"stream":true)"),
                    {400, "prompt_logprobs", "`prompt_logprobs` are not available when `stream=True`."});
}

TEST(RequestLimitsTest, NeedTheModel) {
  SamplingParams s;
  EXPECT_FALSE(check_model_limits(s, true, 100, 20).has_value());
  s.logprobs = 21;
  std::optional<ApiError> e = check_model_limits(s, true, 100, 20);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "top_logprobs");
  EXPECT_EQ(e->status.message(), "Requested sample logprobs of 21, which is greater than max allowed: 20");
  e = check_model_limits(s, false, 100, 20);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "logprobs");
  s.logprobs = 20;
  s.prompt_logprobs = 25;
  e = check_model_limits(s, false, 100, 20);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "prompt_logprobs");
  s.prompt_logprobs.reset();
  s.logit_bias = {{5, 1.0f}, {100, 2.0f}, {1000, 1.0f}};
  e = check_model_limits(s, false, 100, 20);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "logit_bias");
  EXPECT_EQ(e->status.message(),
            "token_id(s) [100, 1000] in logit_bias contain out-of-vocab token ids. Vocabulary size: 100");
  EXPECT_EQ(http_status_for(e->status.code()), 400);
}

TEST(ChatRequestTest, RequestChatTemplateIsRefused) {
  expect_chat_error(chat_body(R"("chat_template":"{{ x }}")"),
                    {400, "chat_template", "--trust-request-chat-template is not set"});
}

TEST(CompletionRequestTest, PromptForms) {
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":"hello"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().prompt_text, "hello");
  EXPECT_FALSE(r.value().prompt_is_tokens);
  EXPECT_TRUE(r.value().add_special_tokens);

  r = parse_completion_request(R"({"prompt":["one"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().prompt_text, "one");

  r = parse_completion_request(R"({"prompt":[1,2,3],"add_special_tokens":false})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().prompt_is_tokens);
  EXPECT_EQ(r.value().prompt_tokens, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(r.value().add_special_tokens);

  r = parse_completion_request(R"({"prompt":[[4,5]]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().prompt_tokens, (std::vector<int64_t>{4, 5}));
}

TEST(CompletionRequestTest, PromptErrors) {
  expect_completion_error("{}", {400, "prompt", "Either prompt or prompt_embeds must be provided."});
  expect_completion_error(R"({"prompt":5})", {400, "prompt", "expected a string"});
  expect_completion_error(R"({"prompt":[]})", {400, "prompt", "must not be empty"});
  expect_completion_error(R"({"prompt":["a",[1]]})", {400, "prompt", "not mixed"});
  expect_completion_error(R"({"prompt":[1,"a"]})", {400, "prompt", "token ids must be integers"});
  expect_completion_error(R"({"prompt":"x","suffix":"y"})", {400, "suffix", "suffix is not currently supported"});
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","echo":true,"logprobs":1})").ok());  // vLLM's echo logprobs
  expect_completion_error(R"({"prompt":"x","logprobs":-1})", {400, "logprobs", "must be a positive value"});
  expect_completion_error(R"({"prompt":"x","prompt_logprobs":2,"stream":true})",
                          {400, "prompt_logprobs", "not available when `stream=True`"});
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":"x","logprobs":3,"prompt_logprobs":0})");
  ASSERT_TRUE(r.ok()) << r.error().status.message();
  EXPECT_EQ(r.value().common.sampling.logprobs, 3);
  EXPECT_EQ(r.value().common.sampling.prompt_logprobs, 0);
  expect_completion_error(R"({"prompt":"x","logprobs":true})", {400, "logprobs", "expected an integer"});
  expect_completion_error(R"({"prompt":"x","max_tokens":-1})", {400, "max_tokens", "at least 1"});
}

TEST(CompletionRequestTest, IgnoredFieldsAreCollected) {
  ApiResult<CompletionRequest> r = parse_completion_request(R"({"prompt":"x","user":"u","foo":1,"bar":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().common.ignored_fields, (std::vector<std::string>{"foo", "bar"}));
}

}  // namespace
}  // namespace podserve::openai
