#include "serve/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <exception>
#include <memory>
#include <random>

#include "base/log.h"

namespace podserve::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

/// Errors that just mean "the client went away or idled out": closed quietly, not logged as problems.
bool is_disconnect(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::broken_pipe;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// 32 random hex digits, the shape of vLLM's `uuid.uuid4().hex` request ids.
std::string random_hex_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int word = 0; word < 2; ++word) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 0xf];
  }
  return id;
}

/// A request target as the log shows it: bytes outside printable ASCII, `"` and `\\` as \xHH (nginx's access-log
/// escaping), so a path of arbitrary bytes can neither break a log line's UTF-8 nor forge another line.
std::string loggable(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

/// One client connection: reads requests in a loop (keep-alive), routes them, and is the ResponseWriter the
/// route handler answers through. Lives on its own strand; owned by its coroutine (shared_ptr).
class HttpServer::Connection : public ResponseWriter {
 public:
  Connection(HttpServer& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  awaitable<void> run(std::shared_ptr<Connection> self);

  awaitable<void> send(HttpResponse response) override {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version_};
    res.set(bhttp::field::server, "podserve");
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    set_request_id(res);
    res.keep_alive(keep_alive_);
    res.body() = std::move(response.body);
    res.prepare_payload();
    responded_ = true;
    status_ = response.status;
    stream_.expires_after(server_.options_.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, res, kUseTuple);
    stream_.expires_never();
    if (ec) failed_ = true;
  }

  awaitable<bool> begin_stream(int status, std::string content_type) override {
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), version_};
    res.set(bhttp::field::server, "podserve");
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::cache_control, "no-cache");
    set_request_id(res);
    if (version_ >= 11) {
      res.chunked(true);
    } else {
      raw_stream_ = true;  // HTTP/1.0 has no chunked encoding: the body ends when the connection closes
      keep_alive_ = false;
    }
    res.keep_alive(keep_alive_);
    responded_ = true;
    streaming_ = true;
    status_ = status;
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    stream_.expires_after(server_.options_.write_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream_, sr, kUseTuple);
    stream_.expires_never();
    if (ec) failed_ = true;
    co_return !failed_;
  }

  awaitable<bool> write(std::string data) override {
    if (failed_ || !streaming_) co_return false;
    if (data.empty()) co_return true;  // an empty chunk would end a chunked body
    stream_.expires_after(server_.options_.write_timeout);
    boost::system::error_code ec;
    if (raw_stream_) {
      std::tie(ec, std::ignore) = co_await net::async_write(stream_, net::buffer(data), kUseTuple);
    } else {
      std::tie(ec, std::ignore) =
          co_await net::async_write(stream_, bhttp::make_chunk(net::buffer(data)), kUseTuple);
    }
    stream_.expires_never();
    if (ec) failed_ = true;
    co_return !failed_;
  }

  awaitable<void> end_stream() override {
    if (!streaming_ || stream_ended_) co_return;
    stream_ended_ = true;
    if (failed_ || raw_stream_) co_return;  // raw streams end by closing the connection
    stream_.expires_after(server_.options_.write_timeout);
    auto [ec, n] = co_await net::async_write(stream_, bhttp::make_chunk_last(), kUseTuple);
    stream_.expires_never();
    if (ec) failed_ = true;
  }

  awaitable<void> wait_closed() override {
    auto& sock = stream_.socket();
    for (;;) {
      auto [ec] = co_await sock.async_wait(tcp::socket::wait_read, kUseTuple);
      if (ec) co_return;  // cancelled (the other branch won) or the socket failed
      // Peek without blocking: a readiness report can be stale (the bytes were already read), and the
      // socket's synchronous receive would then block this io thread.
      char byte;
      ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) co_return;  // EOF or reset: the client is gone
      // Bytes of a pipelined next request: the client is still there. Stop watching until cancelled.
      net::steady_timer forever(sock.get_executor(), std::chrono::steady_clock::time_point::max());
      co_await forever.async_wait(kUseTuple);
      co_return;
    }
  }

  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  /// True when the client has closed its side (EOF or error on a non-blocking peek).
  bool peer_closed() {
    char byte;
    ssize_t n = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  /// The X-Request-Id header when the server is configured to send it (vLLM's XRequestIdMiddleware).
  template <typename Response>
  void set_request_id(Response& res) {
    if (!server_.options_.request_id_headers) return;
    if (request_id_.empty()) request_id_ = random_hex_id();  // a request that could not be parsed
    res.set("X-Request-Id", request_id_);
  }
  awaitable<bool> read_request(HttpRequest* out);
  awaitable<void> handle(const HttpRequest& req);
  awaitable<void> send_error(int status, const std::string& message) {
    co_await send(server_.errors_(status, message));
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool linger_ = false;  // drain the client's unread bytes before closing (after a request-parse error)
  // Per-request state.
  bool responded_ = false;
  bool streaming_ = false;
  bool stream_ended_ = false;
  bool raw_stream_ = false;
  bool failed_ = false;
  int status_ = 0;
  std::string request_id_;  // for the X-Request-Id response header
};

awaitable<bool> HttpServer::Connection::read_request(HttpRequest* out) {
  request_id_.clear();  // a parse error below answers with a fresh id, never the previous request's
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
  parser.body_limit(server_.options_.max_body_bytes);
  boost::system::error_code ec;
  size_t n = 0;
  if (buffer_.size() == 0) {
    // Idle keep-alive wait: up to idle_timeout for the request's first byte.
    stream_.expires_after(server_.options_.idle_timeout);
    std::tie(ec, n) = co_await stream_.async_read_some(buffer_.prepare(4096), kUseTuple);
    if (!ec) buffer_.commit(n);
    if (ec) {
      stream_.expires_never();
      co_return false;  // idle timeout, EOF or reset: close quietly
    }
  }
  // Once a request has started, all of it (headers and body) must arrive within request_timeout.
  stream_.expires_after(server_.options_.request_timeout);
  std::tie(ec, n) = co_await bhttp::async_read_header(stream_, buffer_, parser, kUseTuple);
  if (!ec && !parser.is_done()) {
    // Clients such as curl wait (up to a second) for this before sending a large body.
    auto expect = parser.get()[bhttp::field::expect];
    if (lower(std::string_view(expect.data(), expect.size())) == "100-continue") {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      std::tie(ec, std::ignore) = co_await net::async_write(stream_, net::buffer(kContinue), kUseTuple);
    }
    if (!ec) std::tie(ec, n) = co_await bhttp::async_read(stream_, buffer_, parser, kUseTuple);
  }
  stream_.expires_never();
  if (ec) {
    if (ec == beast::error::timeout) {
      // The stream closed the socket, so no 408 can be sent; the access log still says why the client was cut.
      PODSERVE_LOG(kInfo) << remote_ << " request not complete within " << server_.options_.request_timeout.count()
                          << " s: connection closed (408)";
      co_return false;
    }
    if (is_disconnect(ec)) co_return false;
    version_ = 11;
    keep_alive_ = false;  // the stream position is unknown after a parse error
    linger_ = true;       // the client may still be sending: drain before closing, or it gets a reset
    if (ec == bhttp::error::body_limit) {
      co_await send_error(413, "Request body too large (limit " + std::to_string(server_.options_.max_body_bytes) +
                                   " bytes)");
    } else if (ec == bhttp::error::header_limit) {
      co_await send_error(431, "Request headers too large");
    } else {
      co_await send_error(400, "Malformed HTTP request: " + ec.message());
    }
    co_return false;
  }
  auto& req = parser.get();
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  out->method = std::string(req.method_string());
  std::string_view target(req.target().data(), req.target().size());
  size_t q = target.find('?');
  out->path = std::string(target.substr(0, q));
  out->query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  for (const auto& field : req) {
    out->headers.emplace_back(lower(std::string_view(field.name_string().data(), field.name_string().size())),
                              std::string(field.value()));
  }
  out->body = std::move(req.body());
  out->remote = remote_;
  co_return true;
}

awaitable<void> HttpServer::Connection::handle(const HttpRequest& req) {
  responded_ = streaming_ = stream_ended_ = raw_stream_ = false;
  status_ = 0;
  request_id_ = std::string(req.header("x-request-id"));
  std::optional<HttpResponse> filtered;
  if (server_.filter_) filtered = server_.filter_(req);
  if (filtered) {
    co_await send(std::move(*filtered));
  } else if (Router::Match m = server_.router_.match(req.method, req.path); m.status == 404) {
    co_await send_error(404, "Route " + req.method + " " + req.path + " not found");
  } else if (m.status == 405) {
    co_await send_error(405, "Method " + req.method + " not allowed for " + req.path + " (allowed: " + m.allowed +
                                 ")");
  } else {
    // The boundary where exceptions stop: a throwing handler becomes a 500 (or an aborted stream).
    std::string error;
    try {
      co_await (*m.handler)(req, *this);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (!error.empty()) {
      PODSERVE_LOG(kError) << "handler for " << req.method << " " << loggable(req.path) << " failed: " << error;
      if (!responded_) co_await send_error(500, "Internal server error");
      else failed_ = true;  // mid-stream: close the connection so the client sees the failure
    } else if (!responded_ && peer_closed()) {
      failed_ = true;  // the handler gave up because the client left (nginx logs this as 499)
      status_ = 499;
    } else if (!responded_) {
      PODSERVE_LOG(kError) << "handler for " << req.method << " " << loggable(req.path) << " sent no response";
      co_await send_error(500, "Internal server error");
    }
  }
  if (streaming_) co_await end_stream();
  PODSERVE_LOG(kInfo) << remote_ << " \"" << req.method << " " << loggable(req.path) << " HTTP/" << version_ / 10
                      << "." << version_ % 10 << "\" " << status_;
}

awaitable<void> HttpServer::Connection::run(std::shared_ptr<Connection> self) {
  for (;;) {
    HttpRequest req;
    const bool got_request = co_await read_request(&req);
    if (!got_request) break;
    ++server_.active_requests_;
    co_await handle(req);
    --server_.active_requests_;
    if (!keep_alive_ || failed_ || raw_stream_) break;
  }
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (linger_) {
    // Lingering close: closing with unread bytes makes the kernel send a reset, which can destroy the error
    // response before the client reads it. Discard what the client still sends, for a bounded time and size.
    stream_.expires_after(std::chrono::seconds(2));
    size_t drained = 0;
    while (drained < (8u << 20)) {
      auto [rec, n] = co_await stream_.async_read_some(buffer_.prepare(65536), kUseTuple);
      if (rec) break;
      buffer_.consume(buffer_.size());
      drained += n;
    }
    stream_.expires_never();
  }
  stream_.socket().close(ec);
}

HttpServer::HttpServer(boost::asio::io_context& ioc, Router router, ServerOptions options, ErrorResponder errors,
                       RequestFilter filter)
    : ioc_(ioc),
      router_(std::move(router)),
      options_(std::move(options)),
      errors_(std::move(errors)),
      filter_(std::move(filter)),
      acceptor_(net::make_strand(ioc)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::listen() {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  boost::system::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return invalid_argument("Cannot resolve host '" + options_.host + "': " + ec.message());
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("Cannot listen on " + where + ": " + ec.message());
  bound_port_ = acceptor_.local_endpoint(ec).port();
  return ok_status();
}

void HttpServer::start() {
  net::co_spawn(acceptor_.get_executor(), accept_loop(), [](std::exception_ptr e) {
    if (e) {
      PODSERVE_LOG(kError) << "accept loop ended by an exception";
    }
  });
}

void HttpServer::stop_accepting() {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kUseTuple);
    if (!acceptor_.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      PODSERVE_LOG(kWarning) << "accept failed: " << ec.message();
      net::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    auto conn = std::make_shared<Connection>(*this, std::move(socket));
    net::co_spawn(conn->executor(), conn->run(conn), [](std::exception_ptr e) {
      if (e) {
        PODSERVE_LOG(kError) << "connection ended by an exception";
      }
    });
  }
}

}  // namespace podserve::http
