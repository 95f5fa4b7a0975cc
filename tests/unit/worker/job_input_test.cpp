// Job input dispatch (worker-vllm.md §2.1, §2.2): the classic worker's native and openai_route forms and the
// newer openai_input-only and route/body/method forms (the cases of worker-vllm's tests/test_handler.py).
#include "worker/job_input.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace podserve::worker {
namespace {

namespace json = boost::json;

Result<JobPlan> plan(std::string_view input) { return plan_job(json::parse(input), WorkerConfig{}); }

json::object body_of(const JobPlan& p) { return json::parse(p.body).as_object(); }

TEST(JobInput, OpenAiRoutes) {
  Result<JobPlan> chat = plan(R"({"openai_route": "/v1/chat/completions", "openai_input": {"messages": []}})");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->method, "POST");
  EXPECT_EQ(chat->path, "/v1/chat/completions");
  EXPECT_FALSE(chat->native);
  // The platform sends `openai_input: {}` for GET /openai/v1/models.
  Result<JobPlan> models = plan(R"({"openai_route": "/v1/models", "openai_input": {}})");
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(models->method, "GET");
  EXPECT_EQ(models->body, "");
  // openai_input alone: a chat request.
  Result<JobPlan> only = plan(R"({"openai_input": {"messages": [{"role": "user", "content": "x"}]}})");
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->method, "POST");
  EXPECT_EQ(only->path, "/v1/chat/completions");
  EXPECT_FALSE(plan(R"({"openai_route": "/v1/embeddingz", "openai_input": {}})").ok());
  EXPECT_FALSE(plan(R"({"openai_route": "/v1/completions", "openai_input": [1]})").ok());
}

TEST(JobInput, GenericRoute) {
  Result<JobPlan> get = plan(R"({"route": "/v1/models"})");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->method, "GET");
  Result<JobPlan> post = plan(R"({"route": "/tokenize", "body": {"prompt": "hi"}})");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->method, "POST");
  EXPECT_EQ(body_of(*post).at("prompt").as_string(), "hi");
  Result<JobPlan> explicit_method = plan(R"({"route": "/v1/models", "method": "get", "body": {"a": 1}})");
  ASSERT_TRUE(explicit_method.ok());
  EXPECT_EQ(explicit_method->method, "GET");  // explicit method wins, upper-cased
  EXPECT_FALSE(plan(R"({"route": "v1/models"})").ok());
}

TEST(JobInput, NativeStructuredOutputsGoToTheRoute) {
  // vLLM's SamplingParams.structured_outputs, and guided_decoding (its older name), become the route's field.
  for (const char* key : {"structured_outputs", "guided_decoding"}) {
    Result<JobPlan> p = plan(std::string(R"({"prompt": "hi", "sampling_params": {")") + key +
                             R"(": {"choice": ["a", "b"]}}})");
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    json::object b = body_of(*p);
    EXPECT_EQ(b.at("structured_outputs").at("choice").as_array().size(), 2u);
  }
}

TEST(JobInput, NativeBeamSearchGoesToTheRoute) {
  // The route's parser reads them (with its vLLM refusals), as for an OpenAI request.
  Result<JobPlan> p = plan(R"({"prompt": "hi", "sampling_params": {"use_beam_search": true, "n": 3,
                              "length_penalty": 0.5, "early_stopping": true}})");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  json::object b = body_of(*p);
  EXPECT_TRUE(b.at("use_beam_search").as_bool());
  EXPECT_EQ(b.at("length_penalty").as_double(), 0.5);
  EXPECT_TRUE(b.at("early_stopping").as_bool());
  EXPECT_EQ(p->native_n, 3);
}

TEST(JobInput, NativePromptAndMessages) {
  Result<JobPlan> p = plan(R"({"prompt": "hi", "sampling_params": {"temperature": 0.5, "n": 2}})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->native);
  EXPECT_FALSE(p->native_chat);
  EXPECT_EQ(p->path, "/v1/completions");
  EXPECT_EQ(p->native_n, 2);
  json::object b = body_of(*p);
  EXPECT_EQ(b.at("prompt").as_string(), "hi");
  EXPECT_EQ(b.at("max_tokens").as_int64(), 100);  // the classic worker's default
  EXPECT_EQ(b.at("temperature").as_double(), 0.5);
  EXPECT_EQ(b.at("stream").as_bool(), false);

  // messages win over prompt; the stream asks for running usage.
  Result<JobPlan> m = plan(R"({"prompt": "p", "messages": [{"role": "user", "content": "m"}], "stream": true,
                              "sampling_params": {"max_tokens": 7}})");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->native_chat);
  EXPECT_TRUE(m->native_stream);
  json::object mb = body_of(*m);
  EXPECT_FALSE(mb.contains("prompt"));
  EXPECT_EQ(mb.at("max_tokens").as_int64(), 7);
  EXPECT_TRUE(mb.at("stream_options").at("continuous_usage_stats").as_bool());

  Result<JobPlan> templated = plan(R"({"prompt": "q", "apply_chat_template": true})");
  ASSERT_TRUE(templated.ok());
  EXPECT_EQ(body_of(*templated).at("messages").at(0).at("content").as_string(), "q");
}

TEST(JobInput, NativeBatchSizes) {
  Result<JobPlan> p = plan(R"({"prompt": "x", "max_batch_size": 10, "min_batch_size": 0,
                              "batch_size_growth_factor": 2})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->batch.max, 10);
  EXPECT_EQ(p->batch.min, 1);  // 0 keeps the default, as `x or default`
  EXPECT_EQ(p->batch.growth, 2);
}

TEST(JobInput, BadInputsSayWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "must contain 'prompt' or 'messages'"},
      {R"("text")", "must be a JSON object"},
      {R"({"prompt": ["a"]})", "'prompt' must be a string"},
      {R"({"messages": "hi"})", "'messages' must be a non-empty list"},
      {R"({"prompt": "a", "sampling_params": [1]})", "'sampling_params' must be a JSON object"},
      {R"({"prompt": "a", "sampling_params": {"foo": 1}})", "unknown parameter 'foo'"},
      {R"({"prompt": "a", "sampling_params": {"output_kind": 1}})", "'output_kind' is not supported"},
      {R"({"prompt": "a", "stream": 1})", "'stream' must be a boolean"},
      {R"({"prompt": "a", "max_batch_size": "big"})", "'max_batch_size' must be a number"},
      {R"({"prompt": "a", "apply_chat_template": "yes"})", "'apply_chat_template' must be a boolean"},
  };
  for (const auto& [input, fragment] : cases) {
    Result<JobPlan> p = plan(input);
    ASSERT_FALSE(p.ok()) << input;
    EXPECT_NE(p.status().message().find(fragment), std::string::npos) << input << " -> " << p.status().message();
  }
}

}  // namespace
}  // namespace podserve::worker
