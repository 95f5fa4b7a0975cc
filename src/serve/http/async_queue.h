// Hands values produced on another thread (the engine's) to a coroutine: a mutex-protected queue plus a
// one-slot concurrent channel used only as a wake-up signal, so the producer never blocks and never runs
// coroutine code. The queue weighs what it holds, so a consumer stuck elsewhere (a write to a client that does
// not read) can learn that its backlog passed a limit and give up instead of holding memory without bound.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include "serve/http/http_types.h"

namespace podserve::http {

/// Multi-producer, single-consumer. Shared (shared_ptr) between the producer callback and the consumer so that
/// a late push after the consumer is gone is harmless.
template <typename T>
class AsyncQueue {
 public:
  /// `cost` weighs an item (e.g. the bytes it holds); `backlog_limit` 0 means no limit.
  explicit AsyncQueue(boost::asio::any_io_executor ex, size_t backlog_limit = 0,
                      std::function<size_t(const T&)> cost = nullptr)
      : signal_(ex, 1), over_signal_(ex, 1), limit_(backlog_limit), cost_(std::move(cost)) {}

  /// Thread-safe, non-blocking.
  void push(T value) {
    bool crossed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      backlog_ += cost_ ? cost_(value) : 1;
      items_.push_back(std::move(value));
      if (limit_ != 0 && !over_ && backlog_ > limit_) crossed = over_ = true;
    }
    // A full signal slot means a wake-up is already pending; it will see this item too.
    signal_.try_send(boost::system::error_code{});
    if (crossed) over_signal_.try_send(boost::system::error_code{});
  }

  /// Waits until at least one item is queued and takes all of them. Cancellable (e.g. by asio's `||`).
  awaitable<std::deque<T>> pop_all() {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!items_.empty()) {
          std::deque<T> out;
          out.swap(items_);
          backlog_ = 0;
          over_ = false;
          co_return out;
        }
      }
      auto [ec] = co_await signal_.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return std::deque<T>{};  // cancelled
    }
  }

  /// Completes with true when the items not yet taken weigh more than the limit (never without a limit), with
  /// false when cancelled; meant to be raced against the consumer's other work with asio's `||`.
  awaitable<bool> wait_over_limit() {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (over_) co_return true;
      }
      // A signal left from a crossing that pop_all() has since taken is stale: the loop looks again.
      auto [ec] = co_await over_signal_.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return false;  // cancelled
    }
  }

 private:
  using Signal = boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;
  std::mutex mu_;
  std::deque<T> items_;  // guarded by mu_
  size_t backlog_ = 0;   // guarded by mu_: the cost of items_
  bool over_ = false;    // guarded by mu_: backlog_ passed limit_ since the last pop_all()
  Signal signal_;
  Signal over_signal_;
  const size_t limit_;
  const std::function<size_t(const T&)> cost_;
};

}  // namespace podserve::http
