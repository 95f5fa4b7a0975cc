// HTTP/1.1 server on Boost.Beast + Asio C++20 coroutines: one coroutine per connection on its own strand, any
// number of connections on a small pool of io_context threads (no thread per connection). Keep-alive (idle
// timeout), a request read timeout, header (431) and body (413) size limits, `Expect: 100-continue`, chunked
// streaming for SSE, client-disconnect detection, and optionally an `X-Request-Id` on every response.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "serve/http/http_types.h"
#include "serve/http/router.h"

namespace podserve::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;  // 0 = any free port (see HttpServer::port())
  size_t max_body_bytes = 32u << 20;
  size_t max_header_bytes = 64u << 10;      // request line + headers; more answers 431
  std::chrono::seconds idle_timeout{60};     // keep-alive connection with no request (waiting for its first byte)
  std::chrono::seconds request_timeout{30};  // from a request's first byte until it is fully read (slow clients)
  std::chrono::seconds write_timeout{60};  // one write to a client that does not read
  /// vLLM's --enable-request-id-headers: every response carries `X-Request-Id`, the request's own or a new
  /// random one (32 hex digits, as uuid4().hex).
  bool request_id_headers = false;
};

/// Builds the responses the server produces itself (400 malformed HTTP, 404, 405, 413, 500), so their body can
/// follow the API's error shape without this layer knowing it.
using ErrorResponder = std::function<HttpResponse(int status, const std::string& message)>;
/// Runs before routing; a returned response is sent instead of calling the route (e.g. 401 for a bad API key).
using RequestFilter = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Router router, ServerOptions options, ErrorResponder errors,
             RequestFilter filter = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and listens. The error names the address and the reason (e.g. address in use).
  Status listen();
  /// The bound port (the real one when options.port was 0). Valid after listen().
  int port() const { return bound_port_; }
  /// Starts accepting on the io_context (call after listen(); the io_context threads do the work).
  void start();
  /// Stops accepting new connections; open connections finish their current request. Thread-safe.
  void stop_accepting();
  /// Requests being handled right now (for graceful shutdown).
  int active_requests() const { return active_requests_.load(); }

 private:
  class Connection;
  awaitable<void> accept_loop();

  boost::asio::io_context& ioc_;
  Router router_;
  ServerOptions options_;
  ErrorResponder errors_;
  RequestFilter filter_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int bound_port_ = 0;
  std::atomic<int> active_requests_{0};
};

}  // namespace podserve::http
