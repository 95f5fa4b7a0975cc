// run_job over InProcessRoutes with stand-in handlers: route answers become the classic worker's items and
// error strings (worker-vllm.md §2.3, §2.4, §2.6), an HTTP 500 marks the engine as failed, and cancelling a job
// reaches the handler as a client hang-up (which is what makes the real handler abort its engine request).
#include "worker/job_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "serve/http/sse.h"

namespace podserve::worker {
namespace {

namespace json = boost::json;

struct Handlers {
  std::atomic<bool> saw_hang_up{false};
  std::atomic<bool> streaming{false};
};

http::Router make_router(Handlers& h) {
  http::Router r;
  r.add("GET", "/v1/models", [](const http::HttpRequest&, http::ResponseWriter& w) -> http::awaitable<void> {
    http::HttpResponse res{200, "application/json", R"({"object":"list","data":[]})"};
    co_await w.send(std::move(res));
  });
  r.add("POST", "/v1/chat/completions",
        [](const http::HttpRequest&, http::ResponseWriter& w) -> http::awaitable<void> {
          http::HttpResponse res{
              404, "application/json",
              R"({"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":"model","code":404}})"};
          co_await w.send(std::move(res));
        });
  r.add("POST", "/v1/completions", [](const http::HttpRequest&, http::ResponseWriter& w) -> http::awaitable<void> {
    http::HttpResponse res{500, "application/json",
                           R"({"error":{"message":"forward pass failed","type":"InternalServerError","param":null,"code":500}})"};
    co_await w.send(std::move(res));
  });
  // Streams 12 events, or, for {"endless": true}, events until the client goes away.
  r.add("POST", "/stream", [&h](const http::HttpRequest& req, http::ResponseWriter& w) -> http::awaitable<void> {
    const bool endless = json::parse(req.body).as_object().contains("endless");
    http::SseWriter sse(w);
    const bool opened = co_await sse.open();
    if (!opened) co_return;
    h.streaming = true;
    for (int i = 0; endless || i < 12; ++i) {
      sse.add(R"({"i":)" + std::to_string(i) + "}");
      const bool ok = co_await sse.flush();
      if (!ok) {
        h.saw_hang_up = true;
        co_return;
      }
    }
    sse.add_done();
    co_await sse.close();
  });
  return r;
}

JobOutcome run(InProcessRoutes& routes, std::string_view input, bool raw = true) {
  WorkerConfig config;
  config.raw_openai_output = raw;
  JobControl control;
  return run_job(json::parse(input), config, routes, control, [](const json::value&) {});
}

TEST(JobRunner, JsonAnswerIsOneItem) {
  Handlers h;
  InProcessRoutes routes(make_router(h), 2);
  JobOutcome out = run(routes, R"({"openai_route": "/v1/models", "openai_input": {}})");
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(json::serialize(out.items[0]), R"({"object":"list","data":[]})");
}

TEST(JobRunner, ErrorsAreTheClassicStrings) {
  Handlers h;
  InProcessRoutes routes(make_router(h), 2);
  JobOutcome notfound = run(routes, R"({"openai_route": "/v1/chat/completions", "openai_input": {"model": "x"}})");
  ASSERT_TRUE(notfound.error);
  EXPECT_EQ(*notfound.error,
            "{'message': 'The model `x` does not exist.', 'type': 'NotFoundError', 'param': 'model', 'code': 404}");
  EXPECT_FALSE(notfound.fatal);
  JobOutcome missing = run(routes, R"({"route": "/nowhere"})");
  ASSERT_TRUE(missing.error);
  EXPECT_FALSE(missing.fatal);
  // An engine failure: the job fails and the worker is told to stop.
  JobOutcome failed = run(routes, R"({"openai_route": "/v1/completions", "openai_input": {}})");
  ASSERT_TRUE(failed.error);
  EXPECT_TRUE(failed.fatal);
}

TEST(JobRunner, StreamBatchesRawAndParsed) {
  Handlers h;
  InProcessRoutes routes(make_router(h), 2);
  JobOutcome raw = run(routes, R"({"route": "/stream", "body": {"x": 1}})");
  ASSERT_FALSE(raw.error);
  // 13 events (12 + [DONE]) in batches of 1, 3, 9.
  ASSERT_EQ(raw.items.size(), 3u);
  EXPECT_EQ(raw.items[0].as_string(), "data: {\"i\":0}\n\n");
  EXPECT_EQ(raw.items[2].as_string().ends_with("data: {\"i\":11}\n\ndata: [DONE]\n\n"), true);
  JobOutcome parsed = run(routes, R"({"route": "/stream", "body": {"x": 1}})", /*raw=*/false);
  ASSERT_EQ(parsed.items.size(), 3u);  // 12 chunks: 1, 3, 8 ([DONE] dropped)
  EXPECT_EQ(parsed.items[2].as_array().size(), 8u);
  EXPECT_EQ(json::serialize(parsed.items[0]), R"([{"i":0}])");
}

TEST(JobRunner, CancelLooksLikeAHangUp) {
  Handlers h;
  InProcessRoutes routes(make_router(h), 2);
  WorkerConfig config;
  JobControl control;
  std::atomic<int> items{0};
  std::thread canceller([&] {
    while (items.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    control.cancel();
  });
  JobOutcome out = run_job(json::parse(R"({"route": "/stream", "body": {"endless": true}})"), config, routes, control,
                           [&](const json::value&) { items.fetch_add(1); });
  canceller.join();
  EXPECT_TRUE(out.cancelled);
  EXPECT_TRUE(h.saw_hang_up.load());  // the handler stopped because its client went away
}

TEST(JobRunner, PythonRepr) {
  EXPECT_EQ(python_repr(json::parse(R"({"a": [1, 2.5, true, null], "b": "it's", "c": "say \"x\"\n"})")),
            R"({'a': [1, 2.5, True, None], 'b': "it's", 'c': 'say "x"\n'})");
}

}  // namespace
}  // namespace podserve::worker
