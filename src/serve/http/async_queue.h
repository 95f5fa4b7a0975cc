// Hands values produced on another thread (the engine's) to a coroutine: a mutex-protected queue plus a
// one-slot concurrent channel used only as a wake-up signal, so the producer never blocks and never runs
// coroutine code.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <mutex>
#include <utility>

#include "serve/http/http_types.h"

namespace podserve::http {

/// Multi-producer, single-consumer. Shared (shared_ptr) between the producer callback and the consumer so that
/// a late push after the consumer is gone is harmless.
template <typename T>
class AsyncQueue {
 public:
  explicit AsyncQueue(boost::asio::any_io_executor ex) : signal_(std::move(ex), 1) {}

  /// Thread-safe, non-blocking.
  void push(T value) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(value));
    }
    // A full signal slot means a wake-up is already pending; it will see this item too.
    signal_.try_send(boost::system::error_code{});
  }

  /// Waits until at least one item is queued and takes all of them. Cancellable (e.g. by asio's `||`).
  awaitable<std::deque<T>> pop_all() {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!items_.empty()) {
          std::deque<T> out;
          out.swap(items_);
          co_return out;
        }
      }
      auto [ec] = co_await signal_.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return std::deque<T>{};  // cancelled
    }
  }

 private:
  std::mutex mu_;
  std::deque<T> items_;
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> signal_;
};

}  // namespace podserve::http
