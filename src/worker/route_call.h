// The OpenAI routes called in-process: a job's request goes through the same http::Router and handlers that
// `podserve serve` exposes over a socket, with a ResponseWriter that captures the status, body and SSE writes
// instead of sending them. The handlers run on a small io_context of their own; the job's thread reads what
// they write from a blocking queue. Cancelling a call looks to the handler like the client hanging up, so the
// engine request is aborted exactly as for a disconnected HTTP client.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "serve/http/router.h"

namespace podserve::worker {

/// What a handler did, in order.
struct RouteEvent {
  enum Kind { kResponse, kStreamBegin, kData, kStreamEnd };
  Kind kind = kResponse;
  int status = 0;     // kResponse, kStreamBegin
  std::string body;   // kResponse: the body; kData: the bytes written
};

struct CallState;

/// One request in flight. Move-only handle; destroying it cancels the call if it has not finished.
class RouteCall {
 public:
  explicit RouteCall(std::shared_ptr<CallState> state) : state_(std::move(state)) {}
  ~RouteCall();
  RouteCall(RouteCall&&) noexcept = default;
  RouteCall& operator=(RouteCall&&) noexcept = default;

  /// Waits for what the handler wrote next and appends it to `out`; false once the handler has returned and
  /// everything was read.
  bool next(std::vector<RouteEvent>* out);
  /// Thread-safe: the handler sees its client go away (it aborts the engine request and returns).
  void cancel();

 private:
  std::shared_ptr<CallState> state_;
};

class InProcessRoutes {
 public:
  /// Runs the handlers of `router` on `threads` threads of its own.
  InProcessRoutes(http::Router router, int threads);
  ~InProcessRoutes();
  InProcessRoutes(const InProcessRoutes&) = delete;
  InProcessRoutes& operator=(const InProcessRoutes&) = delete;

  /// Starts `method path` with `body` (JSON). An unknown route answers 404, a known one with another method
  /// 405, with the server's error bodies.
  RouteCall start(std::string method, std::string path, std::string body);

 private:
  http::Router router_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

}  // namespace podserve::worker
