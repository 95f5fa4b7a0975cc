// HttpRequest::keep_going: a long poll the caller no longer needs is abandoned (Cancelled, not the timeout),
// while an answer that has begun to arrive is read whole (a job handed out is never dropped half-way).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "net/http_client.h"

namespace podserve::net {
namespace {

/// One-connection server on loopback: reads the request, then runs `answer` on the socket.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int fd)> answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      answer(c);
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/job-take/w?x=1"; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

void send_all(int fd, const std::string& s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

TEST(HttpClientKeepGoing, AbandonsAWaitingLongPoll) {
  std::atomic<bool> client_done{false};
  OneShotServer server([&](int) {
    while (!client_done) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // never answers
  });
  HttpClient client;
  HttpRequest req;
  req.url = server.url();
  req.timeout_s = 60;
  std::atomic<int> polls{0};
  req.keep_going = [&] { return polls.fetch_add(1) < 2; };
  Result<HttpResponse> res = client.send(req);
  client_done = true;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), StatusCode::kCancelled);
}

TEST(HttpClientKeepGoing, ReadsAnAnswerThatHasBegun) {
  OneShotServer server([](int fd) {
    const std::string body = R"({"id":"job-1","input":{}})";
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the body comes after a pause
    send_all(fd, body);
  });
  HttpClient client;
  HttpRequest req;
  req.url = server.url();
  req.timeout_s = 60;
  // Says "stop" from the moment the status line could have arrived; the answer must still be read whole.
  const auto started = std::chrono::steady_clock::now();
  req.keep_going = [&] { return std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500); };
  Result<HttpResponse> res = client.send(req);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"id":"job-1","input":{}})");
}

}  // namespace
}  // namespace podserve::net
