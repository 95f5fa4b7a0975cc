// Server-sent events over a streamed response: `data: <payload>\n\n` events, buffered so that several events
// ready at once go out in one write, and the `data: [DONE]` terminator OpenAI clients wait for.
#pragma once

#include <string>
#include <string_view>

#include "serve/http/http_types.h"

namespace podserve::http {

/// One SSE event carrying `payload` (which must not contain a newline; compact JSON never does).
std::string sse_event(std::string_view payload);

/// The terminator event of an OpenAI stream.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

/// Writes an event stream through a ResponseWriter. open() once, then add() events and flush() them.
class SseWriter {
 public:
  explicit SseWriter(ResponseWriter& writer) : writer_(writer) {}

  /// Sends 200 with Content-Type text/event-stream. False if the client is gone.
  awaitable<bool> open();
  /// Queues one event (not sent until flush()).
  void add(std::string_view payload) { pending_ += sse_event(payload); }
  /// Queues `data: [DONE]`.
  void add_done() { pending_ += kSseDone; }
  /// Sends everything queued in one write. False if the client is gone.
  awaitable<bool> flush();
  /// Flushes and ends the response.
  awaitable<void> close();

 private:
  ResponseWriter& writer_;
  std::string pending_;
  bool ok_ = true;
};

}  // namespace podserve::http
