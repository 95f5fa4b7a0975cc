// run_generation against a fake engine that emits outputs from its own thread: the JSON and SSE the client
// receives, mid-stream errors, refused submits, and abort on client disconnect.
#include "serve/openai/generate.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "http_test_server.h"
#include "serve/openai/errors.h"

namespace podserve::openai {
namespace {

using podserve::testing::TestClient;
using podserve::testing::TestServer;

/// Joins the fake engine's threads before the server (declared earlier) is destroyed: the threads deliver
/// outputs through the server's io_context, which must still exist then. Declare it after the TestServer.
struct EngineStopper {
  Engine& engine;
  ~EngineStopper() { engine.shutdown(); }
};

/// Emits "Hel", "lo", "!" (then stops) from a thread per request, or, with `endless`, tokens until aborted.
class FakeEngine final : public Engine {
 public:
  bool endless = false;
  std::string endless_piece = "x";  // the text of each endless token
  bool fail = false;            // finish with an error instead of kStop
  Status refuse = ok_status();  // returned by submit()

  ~FakeEngine() override { shutdown(); }

  Status submit(GenerationRequest request, OutputCallback on_output) override {
    if (!refuse.ok()) return refuse;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([this, request = std::move(request), cb = std::move(on_output)] {
      const int prompt = static_cast<int>(request.prompt_tokens.size());
      const int n = request.params.n;
      const char* pieces[] = {"Hel", "lo", "!"};
      for (int i = 0;; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const bool aborted = is_aborted(request.request_id);
        // Choice k says "Hel", "lo", "!" after k tokens of nothing; the choices' updates interleave.
        bool all_done = true;
        for (int k = 0; k < n; ++k) {
          const int step = i - k;
          if (step < 0) {
            all_done = false;
            continue;
          }
          if (!endless && step > 2) continue;
          GenerationOutput out;
          out.index = k;
          out.prompt_tokens = prompt;
          out.completion_tokens = step + 1;
          if (aborted) {
            out.finished = true;
            out.finish_reason = FinishReason::kAbort;
            cb(std::move(out));
            continue;
          }
          out.text_delta = endless ? endless_piece : pieces[step];
          out.token_ids = {100 + step};
          if (request.params.logprobs) out.logprobs = {TokenLogprobs{100 + step, -0.5f, 1, {{100 + step, -0.5f}}}};
          if (step == 0 && request.params.prompt_logprobs) {
            for (size_t p = 1; p < request.prompt_tokens.size(); ++p) {
              out.prompt_logprobs.push_back(TokenLogprobs{request.prompt_tokens[p], -1.0f, 2, {{7, -0.25f}}});
            }
          }
          if (!endless && step == 2) {
            out.finished = true;
            out.finish_reason = fail ? FinishReason::kError : FinishReason::kStop;
            if (fail) out.error = internal_error("kernel exploded");
          } else {
            all_done = false;
          }
          cb(std::move(out));
        }
        if (aborted || (!endless && all_done)) return;
      }
    });
    return ok_status();
  }
  void add_lora(LoraRef, std::shared_ptr<const LoraAdapter>) override {}
  void abort(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_.insert(id);
  }
  const Tokenizer& tokenizer() const override {
    PODSERVE_CHECK(false) << "not used by run_generation";
    std::abort();
  }
  const std::string& chat_template() const override { return template_; }
  int max_model_len() const override { return 100; }
  EngineStats stats() const override { return EngineStats{}; }
  Status audit() const override { return ok_status(); }
  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }
  bool is_aborted(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return aborted_.count(id) != 0;
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::set<std::string> aborted_;
  std::string template_;
};

http::Router make_router(FakeEngine& engine) {
  http::Router r;
  r.add("POST", "/gen", [&engine](const http::HttpRequest& req, http::ResponseWriter& w) -> http::awaitable<void> {
    PreparedGeneration gen;
    gen.request.request_id = "req-1";
    gen.request.prompt_tokens = {1, 2, 3, 4};
    gen.meta = {"chatcmpl-1", 1700000000, "m"};
    gen.stream = req.query.find("stream") != std::string::npos;
    gen.include_usage = req.query.find("usage") != std::string::npos;
    if (req.query.find("n=2") != std::string::npos) gen.request.params.n = gen.request.params.best_of = 2;
    if (req.query.find("logprobs") != std::string::npos) gen.request.params.logprobs = 1;
    if (req.query.find("backlog") != std::string::npos) gen.max_backlog_bytes = 256 << 10;
    if (req.query.find("prompt") != std::string::npos) gen.request.params.prompt_logprobs = 1;
    if (req.query.find("echo") != std::string::npos) {  // completions echo with logprobs, as the service sets it
      gen.echo = "t1t2t3t4";
      gen.echo_logprobs = true;
      gen.request.params.logprobs = gen.request.params.prompt_logprobs = 1;
    }
    gen.token_bytes = [](int32_t id) { return "t" + std::to_string(id); };
    const bool completion = req.query.find("completion") != std::string::npos;
    ChatFormat chat("assistant");
    CompletionFormat legacy;
    co_await run_generation(engine, std::move(gen), completion ? static_cast<const ResponseFormat&>(legacy) : chat,
                            w);
  });
  r.add("POST", "/bad", [](const http::HttpRequest&, http::ResponseWriter& w) -> http::awaitable<void> {
    http::HttpResponse res = error_response(bad_request("nope"));
    co_await w.send(std::move(res));
  });
  return r;
}

/// The JSON payloads of a `data: ...` stream, "[DONE]" included as a string.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << body;
    if (end == std::string::npos) break;
    std::string event = body.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

boost::json::value parse(const std::string& s) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v;
}

TEST(GenerateTest, NonStreaming) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen");
  ASSERT_EQ(res.result_int(), 200);
  boost::json::value v = parse(res.body());
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(), "Hello!");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 4);
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 3);
}

TEST(GenerateTest, StreamingWithUsage) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?stream&usage");
  ASSERT_EQ(res.result_int(), 200);
  std::vector<std::string> events = sse_payloads(res.body());
  ASSERT_EQ(events.size(), 6u) << res.body();  // role, "Hel", "lo", "!"+finish, usage, [DONE]
  EXPECT_EQ(parse(events[0]).at("choices").at(0).at("delta").at("role").as_string(), "assistant");
  std::string text;
  int finishes = 0;
  for (size_t i = 0; i < 4; ++i) {
    boost::json::value chunk = parse(events[i]);
    const boost::json::value& choice = chunk.at("choices").at(0);
    text += choice.at("delta").at("content").as_string();
    if (!choice.at("finish_reason").is_null()) ++finishes;
  }
  EXPECT_EQ(text, "Hello!");
  EXPECT_EQ(finishes, 1);
  boost::json::value usage = parse(events[4]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("total_tokens").as_int64(), 7);
  EXPECT_EQ(events[5], "[DONE]");
}

TEST(GenerateTest, TwoChoicesNonStreamingWithLogprobs) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?n=2&logprobs&prompt");
  ASSERT_EQ(res.result_int(), 200);
  boost::json::value v = parse(res.body());
  const boost::json::array& choices = v.at("choices").as_array();
  ASSERT_EQ(choices.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(choices[i].at("index").as_int64(), static_cast<int64_t>(i));
    EXPECT_EQ(choices[i].at("message").at("content").as_string(), "Hello!");
    EXPECT_EQ(choices[i].at("finish_reason").as_string(), "stop");
    const boost::json::array& content = choices[i].at("logprobs").at("content").as_array();
    ASSERT_EQ(content.size(), 3u);
    EXPECT_EQ(content[0].at("token").as_string(), "t100");
    EXPECT_DOUBLE_EQ(content[0].at("logprob").as_double(), -0.5);
    EXPECT_EQ(content[0].at("top_logprobs").as_array().size(), 1u);
  }
  // Prompt counted once, both choices' tokens counted.
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 4);
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 6);
  const boost::json::array& prompt = v.at("prompt_logprobs").as_array();
  ASSERT_EQ(prompt.size(), 4u);
  EXPECT_TRUE(prompt[0].is_null());
  EXPECT_EQ(prompt[1].at("2").at("rank").as_int64(), 2);
  EXPECT_EQ(prompt[1].at("7").at("decoded_token").as_string(), "t7");
}

TEST(GenerateTest, TwoChoicesStreamInterleaved) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?stream&usage&n=2");
  ASSERT_EQ(res.result_int(), 200);
  std::vector<std::string> events = sse_payloads(res.body());
  ASSERT_EQ(events.size(), 2u + 6u + 2u) << res.body();  // 2 role chunks, 3 per choice, usage, [DONE]
  std::string text[2];
  int finishes[2] = {0, 0};
  bool interleaved = false;
  int last_index = -1;
  for (size_t i = 0; i < 8; ++i) {
    boost::json::value chunk = parse(events[i]);
    const boost::json::value& choice = chunk.at("choices").at(0);
    const auto index = static_cast<int>(choice.at("index").as_int64());
    ASSERT_TRUE(index == 0 || index == 1);
    if (i < 2) {
      EXPECT_EQ(choice.at("delta").at("role").as_string(), "assistant");  // a role chunk per choice first
      EXPECT_EQ(index, static_cast<int>(i));
      continue;
    }
    EXPECT_EQ(finishes[index], 0) << "a chunk after the choice's finish chunk";
    interleaved |= last_index == 0 && index == 1 && finishes[0] == 0;
    last_index = index;
    text[index] += choice.at("delta").at("content").as_string();
    if (!choice.at("finish_reason").is_null()) ++finishes[index];
  }
  EXPECT_TRUE(interleaved);
  EXPECT_EQ(text[0], "Hello!");
  EXPECT_EQ(text[1], "Hello!");
  EXPECT_EQ(finishes[0], 1);
  EXPECT_EQ(finishes[1], 1);
  boost::json::value usage = parse(events[8]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("completion_tokens").as_int64(), 6);
  EXPECT_EQ(events[9], "[DONE]");
}

TEST(GenerateTest, CompletionLegacyLogprobsStreamed) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?stream&completion&logprobs");
  ASSERT_EQ(res.result_int(), 200);
  std::vector<std::string> events = sse_payloads(res.body());
  ASSERT_EQ(events.size(), 4u) << res.body();  // no role chunk for completions
  int64_t expected_offset = 0;
  for (size_t i = 0; i < 3; ++i) {
    const boost::json::value chunk = parse(events[i]);
    const boost::json::value& lp = chunk.at("choices").at(0).at("logprobs");
    EXPECT_EQ(lp.at("text_offset").at(0).as_int64(), expected_offset);  // keeps counting across chunks
    EXPECT_EQ(lp.at("tokens").at(0).as_string(), "t" + std::to_string(100 + i));
    EXPECT_DOUBLE_EQ(lp.at("token_logprobs").at(0).as_double(), -0.5);
    expected_offset += 4;
  }
}

TEST(GenerateTest, MidStreamErrorIsAnEventThenDone) {
  FakeEngine engine;
  engine.fail = true;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?stream");
  ASSERT_EQ(res.result_int(), 200);
  std::vector<std::string> events = sse_payloads(res.body());
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  boost::json::value err = parse(events[events.size() - 2]);
  EXPECT_EQ(err.at("error").at("code").as_int64(), 500);
  EXPECT_EQ(err.at("error").at("message").as_string(), "kernel exploded");
}

TEST(GenerateTest, AbortMidStreamIsAnErrorEventThenDone) {
  // What the SIGTERM deadline does (engine.shutdown() aborts everything): the stream still ends explicitly.
  FakeEngine engine;
  engine.endless = true;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  std::thread aborter([&engine] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    engine.abort("req-1");
  });
  TestClient client(server.port());
  auto res = client.request("POST", "/gen?stream");
  aborter.join();
  ASSERT_EQ(res.result_int(), 200);
  std::vector<std::string> events = sse_payloads(res.body());
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  boost::json::value err = parse(events[events.size() - 2]);
  EXPECT_EQ(err.at("error").at("code").as_int64(), 503);
  EXPECT_NE(std::string(err.at("error").at("message").as_string()).find("shutting down"), std::string::npos);
  for (size_t i = 0; i + 2 < events.size(); ++i) {  // no choice was finished with "abort"
    EXPECT_EQ(events[i].find("\"abort\""), std::string::npos) << events[i];
  }
}

TEST(GenerateTest, EchoLogprobsPutThePromptFirst) {
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  for (const char* target : {"/gen?completion&echo", "/gen?completion&echo&stream"}) {
    auto res = client.request("POST", target);
    ASSERT_EQ(res.result_int(), 200);
    std::string text;
    boost::json::array tokens, token_logprobs, offsets, tops;
    auto take = [&](const boost::json::value& chunk) {
      for (const auto& c : chunk.at("choices").as_array()) {
        text += c.at("text").as_string();
        if (c.at("logprobs").is_null()) continue;
        for (const char* key : {"tokens", "token_logprobs", "text_offset", "top_logprobs"}) {
          boost::json::array& dst = std::string(key) == "tokens"           ? tokens
                                    : std::string(key) == "token_logprobs" ? token_logprobs
                                    : std::string(key) == "text_offset"    ? offsets
                                                                           : tops;
          for (const auto& v : c.at("logprobs").at(key).as_array()) dst.push_back(v);
        }
      }
    };
    if (std::string(target).find("stream") != std::string::npos) {
      for (const std::string& e : sse_payloads(res.body())) {
        if (e != "[DONE]") take(parse(e));
      }
    } else {
      take(parse(res.body()));
    }
    EXPECT_EQ(text, "t1t2t3t4Hello!") << target;
    // The prompt's 4 tokens (the first unscored), then the 3 generated ones; offsets run across both.
    ASSERT_EQ(tokens.size(), 7u) << target;
    EXPECT_EQ(tokens.at(0).as_string(), "t1");
    EXPECT_EQ(tokens.at(3).as_string(), "t4");
    EXPECT_EQ(tokens.at(4).as_string(), "t100");
    EXPECT_TRUE(token_logprobs.at(0).is_null());
    EXPECT_TRUE(tops.at(0).is_null());
    EXPECT_DOUBLE_EQ(token_logprobs.at(1).as_double(), -1.0);
    EXPECT_DOUBLE_EQ(token_logprobs.at(4).as_double(), -0.5);
    int64_t expected = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      EXPECT_EQ(offsets.at(i).as_int64(), expected) << target << " token " << i;
      expected += static_cast<int64_t>(tokens.at(i).as_string().size());
    }
  }
}

TEST(GenerateTest, NonStreamingErrorAndRefusal) {
  FakeEngine engine;
  engine.fail = true;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  EXPECT_EQ(client.request("POST", "/gen").result_int(), 500);
  engine.refuse = resource_exhausted("queue full");
  auto res = client.request("POST", "/gen");
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(parse(res.body()).at("error").at("message").as_string(), "queue full");
}

TEST(GenerateTest, KeepAliveRequestsWithSplitBodies) {
  // Error and generation requests alternating on one keep-alive connection, bodies in a second segment (as
  // httpx sends them). With several io threads a readiness report can be stale; the disconnect watcher once
  // blocked an io thread on it and hung such a request (seen with the real server, racy here).
  FakeEngine engine;
  TestServer server(make_router(engine));
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  for (int i = 0; i < 40; ++i) {
    for (const char* path : {"/bad", "/gen"}) {
      client.write_raw(std::string("POST ") + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      client.write_raw("{}");
      auto res = client.read_response();
      ASSERT_EQ(res.result_int(), path[1] == 'b' ? 400 : 200) << path << " iteration " << i;
    }
  }
}

TEST(GenerateTest, DisconnectAbortsTheRequest) {
  for (bool stream : {true, false}) {
    FakeEngine engine;
    engine.endless = true;
    TestServer server(make_router(engine));
    EngineStopper stop_engine_first{engine};
    TestClient client(server.port());
    client.write_raw(std::string("POST /gen") + (stream ? "?stream" : "") +
                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(engine.is_aborted("req-1"));
    client.close();
    for (int i = 0; i < 100 && !engine.is_aborted("req-1"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(engine.is_aborted("req-1")) << (stream ? "stream" : "non-stream");
    engine.shutdown();
  }
}

TEST(GenerateTest, AStreamClientThatStopsReadingIsDroppedAfterItsBacklog) {
  // The client never reads: its socket buffers fill, the server's write blocks, and the engine's outputs (64 KiB
  // each) pile up. The write timeout is an hour, so only the backlog limit (256 KiB) can end this: the request
  // is aborted and the connection closed, the stream cut short of [DONE].
  FakeEngine engine;
  engine.endless = true;
  engine.endless_piece = std::string(64 << 10, 'x');
  http::ServerOptions options;
  options.write_timeout = std::chrono::hours(1);
  TestServer server(make_router(engine), options);
  EngineStopper stop_engine_first{engine};
  TestClient client(server.port());
  client.write_raw("POST /gen?stream&backlog HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  for (int i = 0; i < 3000 && !engine.is_aborted("req-1"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(engine.is_aborted("req-1"));
  // Now read everything the server sent: it ends with the server closing the connection (a receive timeout
  // here would mean the blocked write was never cancelled).
  timeval tv{60, 0};
  ASSERT_EQ(setsockopt(client.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  std::string received;
  boost::system::error_code ec;
  boost::asio::read(client.socket(), boost::asio::dynamic_buffer(received), ec);
  EXPECT_EQ(ec, boost::asio::error::eof) << ec.message();
  EXPECT_EQ(received.rfind("HTTP/1.1 200", 0), 0u) << received.substr(0, 200);
  EXPECT_EQ(received.find("[DONE]"), std::string::npos);
  engine.shutdown();
}

TEST(GenerateTest, HeldBytesCountsTextAndLogprobs) {
  GenerationOutput out;
  const size_t empty = held_bytes(out);
  EXPECT_EQ(empty, sizeof(GenerationOutput));
  out.text_delta = std::string(1000, 'a');
  out.logprobs.push_back(TokenLogprobs{1, -0.5f, 1, std::vector<std::pair<int32_t, float>>(20, {1, -0.5f})});
  EXPECT_GE(held_bytes(out), empty + 1000 + sizeof(TokenLogprobs) + 20 * sizeof(std::pair<int32_t, float>));
}

}  // namespace
}  // namespace podserve::openai
