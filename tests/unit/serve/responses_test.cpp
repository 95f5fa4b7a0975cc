// Error bodies, the Status -> HTTP mapping, and the JSON shapes of responses and stream chunks.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "serve/http/sse.h"
#include "serve/openai/errors.h"
#include "serve/openai/responses.h"

namespace podserve::openai {
namespace {

boost::json::object parse_object(const std::string& s) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  EXPECT_TRUE(v.is_object()) << s;
  return v.is_object() ? v.get_object() : boost::json::object{};
}

TEST(ErrorsTest, StatusCodeMapping) {
  EXPECT_EQ(http_status_for(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status_for(StatusCode::kOutOfRange), 400);
  EXPECT_EQ(http_status_for(StatusCode::kUnimplemented), 400);
  EXPECT_EQ(http_status_for(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(http_status_for(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(http_status_for(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::kInternal), 500);
  EXPECT_EQ(http_status_for(StatusCode::kDataLoss), 500);
}

TEST(ErrorsTest, OpenAiErrorShape) {
  boost::json::object o = parse_object(error_json(bad_request("max_tokens must be at least 1", "max_tokens")));
  ASSERT_EQ(o.size(), 1u);
  const boost::json::object& e = o.at("error").as_object();
  EXPECT_EQ(e.at("message").as_string(), "max_tokens must be at least 1");
  EXPECT_EQ(e.at("type").as_string(), "BadRequestError");
  EXPECT_EQ(e.at("param").as_string(), "max_tokens");
  EXPECT_EQ(e.at("code").as_int64(), 400);

  o = parse_object(error_json(api_error(StatusCode::kNotFound, "The model `x` does not exist.", "model")));
  EXPECT_EQ(o.at("error").at("type").as_string(), "NotFoundError");
  EXPECT_EQ(o.at("error").at("code").as_int64(), 404);

  o = parse_object(error_json(500, "boom", ""));
  EXPECT_TRUE(o.at("error").at("param").is_null());
  EXPECT_EQ(o.at("error").at("type").as_string(), "InternalServerError");
}

TEST(ErrorsTest, ErrorResponses) {
  http::HttpResponse r = error_response(api_error(StatusCode::kResourceExhausted, "full"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.content_type, "application/json");
  r = unauthorized_response();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":"Unauthorized"})");
}

const ResponseMeta kMeta{"chatcmpl-abc", 1700000000, "m"};

ChoiceOutput choice_of(int index, std::string text, std::optional<Finish> finish) {
  ChoiceOutput c;
  c.index = index;
  c.text = std::move(text);
  c.finish = std::move(finish);
  return c;
}

TEST(ResponsesTest, ChatCompletion) {
  boost::json::object o = parse_object(
      chat_completion_json(kMeta, "assistant", {choice_of(0, "Hello", Finish{FinishReason::kStop, {}})}, {5, 2}));
  EXPECT_EQ(o.at("id").as_string(), "chatcmpl-abc");
  EXPECT_EQ(o.at("object").as_string(), "chat.completion");
  EXPECT_EQ(o.at("created").as_int64(), 1700000000);
  EXPECT_EQ(o.at("model").as_string(), "m");
  EXPECT_TRUE(o.at("system_fingerprint").is_null());
  const boost::json::object& choice = o.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(choice.at("index").as_int64(), 0);
  EXPECT_EQ(choice.at("message").at("role").as_string(), "assistant");
  EXPECT_EQ(choice.at("message").at("content").as_string(), "Hello");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
  EXPECT_TRUE(choice.at("stop_reason").is_null());
  const boost::json::object& usage = o.at("usage").as_object();
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), 5);
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), 2);
  EXPECT_EQ(usage.at("total_tokens").as_int64(), 7);
}

TEST(ResponsesTest, StopReasonKinds) {
  boost::json::object o =
      parse_object(completion_json(kMeta, {choice_of(0, "t", Finish{FinishReason::kStop, std::string("END")})}, {1, 1}));
  EXPECT_EQ(o.at("object").as_string(), "text_completion");
  EXPECT_EQ(o.at("choices").at(0).at("text").as_string(), "t");
  EXPECT_EQ(o.at("choices").at(0).at("stop_reason").as_string(), "END");
  o = parse_object(completion_json(kMeta, {choice_of(0, "t", Finish{FinishReason::kStop, int32_t{2}})}, {1, 1}));
  EXPECT_EQ(o.at("choices").at(0).at("stop_reason").as_int64(), 2);
  o = parse_object(completion_json(kMeta, {choice_of(0, "t", Finish{FinishReason::kLength, {}})}, {1, 1}));
  EXPECT_EQ(o.at("choices").at(0).at("finish_reason").as_string(), "length");
}

TEST(ResponsesTest, ChatChunks) {
  boost::json::object first =
      parse_object(chat_chunk_json(kMeta, std::string("assistant"), choice_of(0, "", std::nullopt), std::nullopt));
  EXPECT_EQ(first.at("object").as_string(), "chat.completion.chunk");
  const boost::json::object& c0 = first.at("choices").at(0).as_object();
  EXPECT_EQ(c0.at("delta").at("role").as_string(), "assistant");
  EXPECT_EQ(c0.at("delta").at("content").as_string(), "");
  EXPECT_TRUE(c0.at("finish_reason").is_null());
  EXPECT_FALSE(first.contains("usage"));

  boost::json::object last =
      parse_object(chat_chunk_json(kMeta, std::nullopt, choice_of(0, "!", Finish{FinishReason::kStop, {}}), std::nullopt));
  const boost::json::object& c1 = last.at("choices").at(0).as_object();
  EXPECT_FALSE(c1.at("delta").as_object().contains("role"));
  EXPECT_EQ(c1.at("finish_reason").as_string(), "stop");
  EXPECT_TRUE(c1.at("stop_reason").is_null());

  boost::json::object usage = parse_object(chat_usage_chunk_json(kMeta, {3, 4}));
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("total_tokens").as_int64(), 7);
}

TEST(ResponsesTest, CompletionChunks) {
  boost::json::object o = parse_object(completion_chunk_json(kMeta, choice_of(0, "ab", std::nullopt), Usage{2, 1}));
  EXPECT_EQ(o.at("object").as_string(), "text_completion");
  EXPECT_EQ(o.at("choices").at(0).at("text").as_string(), "ab");
  EXPECT_TRUE(o.at("choices").at(0).at("finish_reason").is_null());
  EXPECT_EQ(o.at("usage").at("completion_tokens").as_int64(), 1);  // continuous usage stats
}

TEST(ResponsesTest, SeveralChoicesInIndexOrder) {
  std::vector<ChoiceOutput> choices = {choice_of(0, "a", Finish{FinishReason::kStop, {}}),
                                       choice_of(1, "b", Finish{FinishReason::kLength, {}})};
  choices[1].logprobs = boost::json::object{{"content", boost::json::array()}};
  boost::json::object o = parse_object(chat_completion_json(kMeta, "assistant", choices, {3, 4}));
  const boost::json::array& list = o.at("choices").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].at("index").as_int64(), 1);
  EXPECT_EQ(list[1].at("message").at("content").as_string(), "b");
  EXPECT_EQ(list[1].at("finish_reason").as_string(), "length");
  EXPECT_TRUE(list[0].at("logprobs").is_null());
  EXPECT_TRUE(list[1].at("logprobs").at("content").as_array().empty());
  EXPECT_TRUE(o.at("prompt_logprobs").is_null());

  boost::json::array prompt = {nullptr};
  o = parse_object(completion_json(kMeta, choices, {3, 4}, prompt));
  EXPECT_EQ(o.at("choices").at(1).at("text").as_string(), "b");
  EXPECT_EQ(o.at("choices").at(0).at("prompt_logprobs").as_array().size(), 1u);  // on every choice, as vLLM
  EXPECT_FALSE(o.contains("prompt_logprobs"));
}

TEST(ResponsesTest, ModelList) {
  boost::json::object o = parse_object(model_list_json({"name", "alias"}, "/path.gguf", 123, 2048));
  EXPECT_EQ(o.at("object").as_string(), "list");
  ASSERT_EQ(o.at("data").as_array().size(), 2u);  // one card per served name, as vLLM
  const boost::json::object& card = o.at("data").at(0).as_object();
  EXPECT_EQ(card.at("id").as_string(), "name");
  EXPECT_EQ(o.at("data").at(1).at("id").as_string(), "alias");
  EXPECT_EQ(o.at("data").at(1).at("root").as_string(), "/path.gguf");
  EXPECT_EQ(card.at("object").as_string(), "model");
  EXPECT_EQ(card.at("owned_by").as_string(), "vllm");
  EXPECT_EQ(card.at("root").as_string(), "/path.gguf");
  EXPECT_TRUE(card.at("parent").is_null());
  EXPECT_EQ(card.at("max_model_len").as_int64(), 2048);
  const boost::json::object& perm = card.at("permission").at(0).as_object();
  EXPECT_EQ(perm.at("object").as_string(), "model_permission");
  EXPECT_EQ(perm.at("id").as_string().subview().substr(0, 10), "modelperm-");
  EXPECT_TRUE(perm.at("allow_sampling").as_bool());
  EXPECT_FALSE(perm.at("allow_fine_tuning").as_bool());
  EXPECT_EQ(perm.at("organization").as_string(), "*");
  EXPECT_TRUE(perm.at("group").is_null());
}

TEST(ResponsesTest, RequestIds) {
  std::string a = make_request_id("chatcmpl-");
  std::string b = make_request_id("chatcmpl-");
  EXPECT_EQ(a.size(), 9u + 32u);
  EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 9), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(SseTest, EventFormat) {
  EXPECT_EQ(http::sse_event(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(http::kSseDone, "data: [DONE]\n\n");
}

}  // namespace
}  // namespace podserve::openai
