#include "serve/http/sse.h"

namespace podserve::http {

std::string sse_event(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  out += payload;
  out += "\n\n";
  return out;
}

awaitable<bool> SseWriter::open() {
  ok_ = co_await writer_.begin_stream(200, "text/event-stream");
  co_return ok_;
}

awaitable<bool> SseWriter::flush() {
  if (!ok_) co_return false;
  if (pending_.empty()) co_return true;
  std::string data;
  data.swap(pending_);
  ok_ = co_await writer_.write(std::move(data));
  co_return ok_;
}

awaitable<void> SseWriter::close() {
  const bool ok = co_await flush();
  if (ok) co_await writer_.end_stream();
}

}  // namespace podserve::http
