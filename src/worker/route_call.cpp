#include "worker/route_call.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>

#include "base/log.h"
#include "serve/openai/service.h"

namespace podserve::worker {

namespace asio = boost::asio;

struct CallState {
  explicit CallState(asio::io_context& ioc)
      : strand(asio::make_strand(ioc)), closed_timer(strand, std::chrono::steady_clock::time_point::max()) {}

  void push(RouteEvent e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::deque<RouteEvent> events;  // guarded by mu
  bool finished = false;          // guarded by mu
  std::atomic<bool> cancel_requested{false};
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer closed_timer;  // on the strand: cancelled when the call is
  bool cancelled = false;           // on the strand
};

namespace {

/// Captures a handler's answer into the call's event queue.
class CapturingWriter final : public http::ResponseWriter {
 public:
  explicit CapturingWriter(std::shared_ptr<CallState> state) : state_(std::move(state)) {}

  http::awaitable<void> send(http::HttpResponse response) override {
    RouteEvent e;
    e.kind = RouteEvent::kResponse;
    e.status = response.status;
    e.body = std::move(response.body);
    state_->push(std::move(e));
    co_return;
  }
  http::awaitable<bool> begin_stream(int status, std::string) override {
    RouteEvent e;
    e.kind = RouteEvent::kStreamBegin;
    e.status = status;
    state_->push(std::move(e));
    co_return !state_->cancel_requested.load();
  }
  http::awaitable<bool> write(std::string data) override {
    RouteEvent e;
    e.kind = RouteEvent::kData;
    e.body = std::move(data);
    state_->push(std::move(e));
    co_return !state_->cancel_requested.load();
  }
  http::awaitable<void> end_stream() override {
    RouteEvent e;
    e.kind = RouteEvent::kStreamEnd;
    state_->push(std::move(e));
    co_return;
  }
  http::awaitable<void> wait_closed() override {
    if (state_->cancelled) co_return;
    co_await state_->closed_timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  asio::any_io_executor executor() override { return state_->strand; }

 private:
  std::shared_ptr<CallState> state_;
};

http::awaitable<void> run_handler(const http::Handler* handler, http::HttpRequest request,
                                  std::shared_ptr<CallState> state) {
  CapturingWriter writer(state);
  co_await (*handler)(request, writer);
}

}  // namespace

RouteCall::~RouteCall() {
  if (state_) cancel();
}

bool RouteCall::next(std::vector<RouteEvent>* out) {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return !state_->events.empty() || state_->finished; });
  if (state_->events.empty()) return false;
  while (!state_->events.empty()) {
    out->push_back(std::move(state_->events.front()));
    state_->events.pop_front();
  }
  return true;
}

void RouteCall::cancel() {
  if (state_->cancel_requested.exchange(true)) return;
  asio::post(state_->strand, [state = state_] {
    state->cancelled = true;
    state->closed_timer.cancel();
  });
}

InProcessRoutes::InProcessRoutes(http::Router router, int threads)
    : router_(std::move(router)), work_(asio::make_work_guard(ioc_)) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
}

InProcessRoutes::~InProcessRoutes() {
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
}

RouteCall InProcessRoutes::start(std::string method, std::string path, std::string body) {
  auto state = std::make_shared<CallState>(ioc_);
  http::Router::Match m = router_.match(method, path);
  if (m.status != 200) {
    http::HttpResponse res = openai::OpenAiService::http_error(
        m.status, m.status == 404 ? "Not Found" : "Method Not Allowed");
    RouteEvent e;
    e.kind = RouteEvent::kResponse;
    e.status = res.status;
    e.body = std::move(res.body);
    state->push(std::move(e));
    state->finish();
    return RouteCall(state);
  }
  http::HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  request.remote = "worker";
  request.headers.emplace_back("content-type", "application/json");
  asio::co_spawn(state->strand, run_handler(m.handler, std::move(request), state),
                 [state](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       PODSERVE_LOG(kError) << "route handler failed: " << ex.what();
                     } catch (...) {
                       PODSERVE_LOG(kError) << "route handler failed";
                     }
                     RouteEvent ev;
                     ev.kind = RouteEvent::kResponse;
                     ev.status = 500;
                     ev.body = openai::OpenAiService::http_error(500, "Internal server error").body;
                     state->push(std::move(ev));
                   }
                   state->finish();
                 });
  return RouteCall(state);
}

}  // namespace podserve::worker
