// The HTTP server over real sockets: routing (404/405), keep-alive, body limit (413), malformed requests,
// Expect: 100-continue, chunked SSE streaming, request filters and client-disconnect detection.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <sys/socket.h>
#include <sys/time.h>
#include <chrono>
#include <thread>

#include "http_test_server.h"
#include "serve/http/router.h"
#include "serve/http/sse.h"

namespace podserve::http {
namespace {

using podserve::testing::TestClient;
using podserve::testing::TestServer;

Router make_router(std::atomic<bool>* saw_close = nullptr) {
  Router r;
  r.add("GET", "/hello", [](const HttpRequest&, ResponseWriter& w) -> awaitable<void> {
    HttpResponse res{200, "text/plain", "hi"};
    co_await w.send(std::move(res));
  });
  r.add("POST", "/echo", [](const HttpRequest& req, ResponseWriter& w) -> awaitable<void> {
    HttpResponse res{200, "text/plain", req.method + " " + req.path + " " + req.query + " " + req.body};
    co_await w.send(std::move(res));
  });
  r.add("GET", "/stream", [](const HttpRequest&, ResponseWriter& w) -> awaitable<void> {
    SseWriter sse(w);
    const bool opened = co_await sse.open();
    if (!opened) co_return;
    sse.add("{\"n\":1}");
    co_await sse.flush();
    sse.add("{\"n\":2}");
    sse.add_done();
    co_await sse.close();
  });
  r.add("GET", "/wait", [saw_close](const HttpRequest&, ResponseWriter& w) -> awaitable<void> {
    co_await w.wait_closed();
    if (saw_close) saw_close->store(true);
  });
  r.add("GET", "/throw", [](const HttpRequest&, ResponseWriter&) -> awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  return r;
}

TEST(HttpServerTest, RoutesAndErrors) {
  TestServer server(make_router());
  TestClient client(server.port());
  auto res = client.request("GET", "/hello");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hi");
  // Same connection (keep-alive) for everything below.
  res = client.request("GET", "/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.body(), "{\"status\":404}");
  res = client.request("POST", "/hello");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res.body(), "{\"status\":405}");
  res = client.request("POST", "/echo?x=1", "payload");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /echo x=1 payload");
  res = client.request("GET", "/hello/");  // trailing slash is the same route
  EXPECT_EQ(res.result_int(), 200);
  res = client.request("GET", "/throw");  // a throwing handler is a 500, and the server lives on
  EXPECT_EQ(res.result_int(), 500);
  TestClient again(server.port());
  EXPECT_EQ(again.request("GET", "/hello").result_int(), 200);
}

TEST(HttpServerTest, BodyLimitIs413) {
  TestServer server(make_router(), nullptr, /*max_body=*/1024);
  TestClient client(server.port());
  auto res = client.request("POST", "/echo", std::string(4096, 'x'));
  EXPECT_EQ(res.result_int(), 413);
  TestClient ok(server.port());
  EXPECT_EQ(ok.request("POST", "/echo", std::string(1000, 'x')).result_int(), 200);
}

TEST(HttpServerTest, HeaderLimitIs431) {
  ServerOptions options;
  options.max_header_bytes = 2048;
  TestServer server(make_router(), options);
  TestClient client(server.port());
  client.write_raw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_EQ(client.read_response().result_int(), 431);
  TestClient ok(server.port());
  EXPECT_EQ(ok.request("GET", "/hello").result_int(), 200);
}

/// Reads until the server closes the connection; returns the seconds it took (or -1 after `limit_s`).
double seconds_until_closed(TestClient& client, double limit_s) {
  auto& sock = client.socket();
  const auto start = std::chrono::steady_clock::now();
  timeval tv{static_cast<time_t>(limit_s), 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[512];
  for (;;) {
    ssize_t n = ::recv(sock.native_handle(), buf, sizeof(buf), 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
}

TEST(HttpServerTest, SlowPartialRequestIsDropped) {
  ServerOptions options;
  options.request_timeout = std::chrono::seconds(1);
  options.idle_timeout = std::chrono::seconds(30);
  TestServer server(make_router(), options);
  TestClient slow(server.port());
  slow.write_raw("GET /hello HTTP/1.1\r\nHo");  // half a header, then nothing
  const double t = seconds_until_closed(slow, 10);
  EXPECT_GE(t, 0.5);
  EXPECT_LT(t, 5);
  TestClient ok(server.port());
  EXPECT_EQ(ok.request("GET", "/hello").result_int(), 200);
}

TEST(HttpServerTest, IdleKeepAliveIsClosed) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  TestServer server(make_router(), options);
  TestClient client(server.port());
  EXPECT_EQ(client.request("GET", "/hello").result_int(), 200);
  const double t = seconds_until_closed(client, 10);
  EXPECT_GE(t, 0.5);
  EXPECT_LT(t, 5);
}

TEST(HttpServerTest, MalformedRequestIs400) {
  TestServer server(make_router());
  TestClient client(server.port());
  client.write_raw("THIS IS NOT HTTP\r\n\r\n");
  auto res = client.read_response();
  EXPECT_EQ(res.result_int(), 400);
}

TEST(HttpServerTest, ExpectContinue) {
  TestServer server(make_router());
  TestClient client(server.port());
  client.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  std::string interim(25, '\0');
  boost::asio::read(client.socket(), boost::asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  client.write_raw("abc");
  auto res = client.read_response();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /echo  abc");
}

TEST(HttpServerTest, SseStreamIsChunkedAndKeepsAlive) {
  TestServer server(make_router());
  TestClient client(server.port());
  auto res = client.request("GET", "/stream");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "text/event-stream");
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.body(), "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n");
  EXPECT_EQ(client.request("GET", "/hello").body(), "hi");
}

TEST(HttpServerTest, FilterShortCircuits) {
  TestServer server(make_router(), [](const HttpRequest& req) -> std::optional<HttpResponse> {
    if (req.header("authorization") != "Bearer good") return HttpResponse{401, "application/json", "{}"};
    return std::nullopt;
  });
  TestClient client(server.port());
  EXPECT_EQ(client.request("GET", "/hello").result_int(), 401);
}

TEST(HttpServerTest, DetectsClientDisconnect) {
  std::atomic<bool> saw_close{false};
  TestServer server(make_router(&saw_close));
  TestClient client(server.port());
  client.write_raw("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(saw_close.load());
  client.close();
  for (int i = 0; i < 100 && !saw_close.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(saw_close.load());
}

TEST(RouterTest, MatchReportsAllowedMethods) {
  Router r;
  auto noop = [](const HttpRequest&, ResponseWriter&) -> awaitable<void> { co_return; };
  r.add("GET", "/a", noop);
  r.add("POST", "/a", noop);
  EXPECT_EQ(r.match("GET", "/a").status, 200);
  EXPECT_NE(r.match("GET", "/a").handler, nullptr);
  Router::Match m = r.match("DELETE", "/a");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allowed, "GET, POST");
  EXPECT_EQ(r.match("GET", "/b").status, 404);
}

}  // namespace
}  // namespace podserve::http
