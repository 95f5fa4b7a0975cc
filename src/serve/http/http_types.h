// The HTTP layer's view of a request and of the way back to the client, independent of Beast so that route
// handlers (and their tests) never touch sockets or parsers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podserve::http {

using boost::asio::awaitable;

/// One parsed HTTP request. Header names are lower-cased.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query string
  std::string query;   // after '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // peer "ip:port", for logs

  /// The first header with this (lower-case) name, or "".
  std::string_view header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return v;
    }
    return {};
  }
};

/// A complete (non-streamed) response.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // more header fields (caching, security)
};

/// Two GCC 12 coroutine bugs to steer around in every handler:
///  - a braced-init temporary inside a co_await expression is destroyed twice (`co_await w.send({200, ...})`
///    crashes with "free(): invalid pointer"): build the HttpResponse in a named variable and move it in;
///  - `co_await` inside an `if` condition can run into a trap (SIGILL): `bool ok = co_await ...; if (ok)`.
///
/// How a handler answers: either one send(), or begin_stream() + write()... + end_stream() for SSE.
/// Every method is called from the connection's coroutine only.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  /// Sends a whole response.
  virtual awaitable<void> send(HttpResponse response) = 0;
  /// Sends the status line and headers of a streamed (chunked) response. False if the client is gone.
  virtual awaitable<bool> begin_stream(int status, std::string content_type) = 0;
  /// Sends one piece of the streamed body. False if the client is gone (stop producing).
  virtual awaitable<bool> write(std::string data) = 0;
  /// Ends the streamed body.
  virtual awaitable<void> end_stream() = 0;
  /// Completes when the client closes the connection; pending forever while it stays open. Meant to be raced
  /// against other work with asio's `||` (which cancels the loser).
  virtual awaitable<void> wait_closed() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
};

}  // namespace podserve::http
