// Test harness: an HttpServer on 127.0.0.1:<free port> with io threads, plus a tiny blocking client.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "serve/http/server.h"

namespace podserve::testing {

/// Starts the server in the constructor, stops it in the destructor.
class TestServer {
 public:
  explicit TestServer(http::Router router, http::RequestFilter filter = nullptr, size_t max_body = 1 << 20)
      : TestServer(std::move(router), body_options(max_body), std::move(filter)) {}
  /// Any options; host and port are always 127.0.0.1:<free port>.
  TestServer(http::Router router, http::ServerOptions options, http::RequestFilter filter = nullptr) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<http::HttpServer>(
        ioc_, std::move(router), options,
        [](int status, const std::string& message) {
          return http::HttpResponse{status, "application/json", "{\"status\":" + std::to_string(status) + "}"};
        },
        std::move(filter));
    Status st = server_->listen();
    EXPECT_TRUE(st.ok()) << st.to_string();
    server_->start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  int port() const { return server_->port(); }
  boost::asio::io_context& ioc() { return ioc_; }

 private:
  static http::ServerOptions body_options(size_t max_body) {
    http::ServerOptions options;
    options.max_body_bytes = max_body;
    return options;
  }
  boost::asio::io_context ioc_;
  std::unique_ptr<http::HttpServer> server_;
  std::vector<std::thread> threads_;
};

/// A blocking keep-alive client connection.
class TestClient {
 public:
  explicit TestClient(int port) : socket_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    socket_.connect(ep);
  }

  boost::beast::http::response<boost::beast::http::string_body> request(const std::string& method,
                                                                        const std::string& target,
                                                                        const std::string& body = "") {
    namespace bhttp = boost::beast::http;
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "localhost");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket_, req);
    return read_response();
  }

  boost::beast::http::response<boost::beast::http::string_body> read_response() {
    namespace bhttp = boost::beast::http;
    bhttp::response<bhttp::string_body> res;
    boost::beast::error_code ec;
    bhttp::read(socket_, buffer_, res, ec);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  }

  void write_raw(const std::string& data) { boost::asio::write(socket_, boost::asio::buffer(data)); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  void close() {
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace podserve::testing
