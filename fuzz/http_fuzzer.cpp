// Raw bytes from a client socket into `podserve serve`'s HTTP server (Boost.Beast parser, header and body limits,
// keep-alive and pipelining, Expect: 100-continue, chunked bodies, the API-key and Content-Type filter, the
// router's 404/405) and on to the OpenAI routes over the CaptureEngine. The server listens on loopback with small
// limits (8 KiB of headers, 64 KiB of body) so inputs can cross them; each input is one connection: the bytes are
// written, the client's side is shut, and everything the server answers is read until it closes. Every answer
// must parse as a sequence of HTTP/1.1 responses and none may be a 5xx; a connection the server does not close
// after the client's EOF is a hang.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "serve/http/server.h"
#include "support/fuzz_common.h"
#include "support/openai_stack.h"

namespace {

using podserve::fuzz::fail;
namespace http = podserve::http;
namespace bhttp = boost::beast::http;

constexpr const char* kApiKey = "fuzz-key";

struct Server {
  boost::asio::io_context ioc;
  std::unique_ptr<podserve::openai::OpenAiService> service;  // with an API key, unlike openai_stack()'s
  std::unique_ptr<http::HttpServer> server;
  std::thread thread;
  int port = 0;
};

Server& server() {
  static Server* s = [] {
    auto* x = new Server;  // never destroyed: its thread serves until the process exits
    const auto& stack = podserve::fuzz::openai_stack();
    const podserve::Tokenizer& tok = *stack.tokenizer;
    auto renderer = podserve::openai::PromptRenderer::create(stack.engine->chat_template(),
                                                             tok.token_text(tok.bos_id()), tok.token_text(tok.eos_id()));
    podserve::openai::ServiceOptions service_options;
    service_options.served_model_name = std::string(podserve::fuzz::kServedModel);
    service_options.model_root = "model";
    service_options.api_keys = {kApiKey};
    x->service = std::make_unique<podserve::openai::OpenAiService>(*stack.engine, service_options,
                                                                   std::move(renderer).value());
    http::Router router;
    x->service->register_routes(router);
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.max_body_bytes = 64u << 10;
    options.max_header_bytes = 8u << 10;
    options.request_id_headers = true;
    x->server = std::make_unique<http::HttpServer>(
        x->ioc, std::move(router), options, &podserve::openai::OpenAiService::http_error,
        [svc = x->service.get()](const http::HttpRequest& r) { return svc->filter_request(r); });
    if (auto st = x->server->listen(); !st.ok()) fail("set-up: listen", st.to_string());
    x->port = x->server->port();
    x->server->start();
    x->thread = std::thread([x] { x->ioc.run(); });
    return x;
  }();
  return *s;
}

/// One connection: sends `data`, shuts the write side, returns all the server sent until it closed.
std::string exchange(const uint8_t* data, size_t size) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server().port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
  // Send and receive in turn (the server may answer and close before it has read everything).
  std::string answer;
  size_t sent = 0;
  char buf[65536];
  while (sent < size) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;  // the server closed: it has answered
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);                // let the server drain
    if (r <= 0) break;
    answer.append(buf, static_cast<size_t>(r));
  }
  ::shutdown(fd, SHUT_WR);
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    answer.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return answer;
}

/// Parses the server's bytes as consecutive HTTP responses; fails on a malformed one or a 5xx.
void check_responses(const std::string& bytes) {
  boost::beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(bytes.size()), boost::asio::buffer(bytes)));
  while (buffer.size() > 0) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    // A body without a length or chunks (HTTP/1.0 SSE) ends when the server closes: every byte was taken.
    if (!ec && !parser.is_done() && buffer.size() == 0) ec = bhttp::error::need_more;
    if (ec == bhttp::error::need_more) {
      // The server streams (SSE) until it closes, or sent a body without a length: the rest is the body.
      parser.put_eof(ec);
      if (ec) fail("the server's answer ends inside a response", bytes);
      buffer.consume(buffer.size());
    } else if (ec) {
      fail("the server's answer is not HTTP: " + ec.message(), bytes);
    }
    if (!parser.is_done()) fail("an incomplete response", bytes);
    const unsigned status = parser.get().result_int();
    if (status >= 500) fail("the server answered " + std::to_string(status), bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  (void)server();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_responses(exchange(data, size));
  return 0;
}
