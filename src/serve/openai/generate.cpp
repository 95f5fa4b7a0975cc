#include "serve/openai/generate.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <deque>
#include <memory>

#include "base/log.h"
#include "serve/http/async_queue.h"
#include "serve/http/sse.h"
#include "serve/openai/errors.h"

namespace podserve::openai {

using namespace boost::asio::experimental::awaitable_operators;  // NOLINT: `a || b` for racing awaitables

std::optional<std::string> ChatFormat::first_chunk(const ResponseMeta& meta) const {
  return chat_chunk_json(meta, role_, "", std::nullopt, std::nullopt);
}
std::string ChatFormat::chunk(const ResponseMeta& meta, const std::string& text, const std::optional<Finish>& finish,
                              const std::optional<Usage>& usage) const {
  return chat_chunk_json(meta, std::nullopt, text, finish, usage);
}
std::string ChatFormat::usage_chunk(const ResponseMeta& meta, const Usage& usage) const {
  return chat_usage_chunk_json(meta, usage);
}
std::string ChatFormat::full(const ResponseMeta& meta, const std::string& text, const Finish& finish,
                             const Usage& usage) const {
  return chat_completion_json(meta, role_, text, finish, usage);
}

std::string CompletionFormat::chunk(const ResponseMeta& meta, const std::string& text,
                                    const std::optional<Finish>& finish, const std::optional<Usage>& usage) const {
  return completion_chunk_json(meta, text, finish, usage);
}
std::string CompletionFormat::usage_chunk(const ResponseMeta& meta, const Usage& usage) const {
  return completion_usage_chunk_json(meta, usage);
}
std::string CompletionFormat::full(const ResponseMeta& meta, const std::string& text, const Finish& finish,
                                   const Usage& usage) const {
  return completion_json(meta, text, finish, usage);
}

namespace {

using OutputQueue = http::AsyncQueue<GenerationOutput>;

Usage usage_of(const GenerationOutput& out) { return {out.prompt_tokens, out.completion_tokens}; }

/// An engine-side failure reported in a final output; never ok.
ApiError output_error(const GenerationOutput& out) {
  if (!out.error.ok()) return {out.error, {}};
  return api_error(StatusCode::kInternal, "Internal server error");
}

/// Waits for the next outputs; nullopt when the client disconnected first.
http::awaitable<std::optional<std::deque<GenerationOutput>>> next_outputs(OutputQueue& queue,
                                                                          http::ResponseWriter& writer) {
  auto result = co_await (queue.pop_all() || writer.wait_closed());
  if (result.index() == 1) co_return std::nullopt;
  co_return std::get<0>(std::move(result));
}

http::awaitable<void> stream_response(Engine& engine, const std::string& id, const PreparedGeneration& gen,
                                      const ResponseFormat& format, OutputQueue& queue, http::ResponseWriter& writer) {
  http::SseWriter sse(writer);
  bool finished = false;
  const bool opened = co_await sse.open();
  if (!opened) {
    engine.abort(id);
    co_return;
  }
  bool first = true;
  while (!finished) {
    std::optional<std::deque<GenerationOutput>> batch = co_await next_outputs(queue, writer);
    if (!batch) break;  // client gone
    for (GenerationOutput& out : *batch) {
      if (first) {
        // Like vLLM: the role chunk goes out with the first engine output, i.e. after prefill.
        if (auto c = format.first_chunk(gen.meta)) sse.add(*c);
        first = false;
      }
      std::optional<Usage> running_usage;
      if (gen.continuous_usage) running_usage = usage_of(out);
      if (!out.finished) {
        if (!out.text_delta.empty()) sse.add(format.chunk(gen.meta, out.text_delta, std::nullopt, running_usage));
        continue;
      }
      finished = true;
      if (out.finish_reason == FinishReason::kError) {
        // The 200 status is already sent: the error travels as an event, then [DONE] (vLLM's behaviour).
        sse.add(error_json(output_error(out)));
      } else {
        sse.add(format.chunk(gen.meta, out.text_delta, Finish{out.finish_reason, out.stop_reason}, running_usage));
        if (gen.include_usage) sse.add(format.usage_chunk(gen.meta, usage_of(out)));
      }
      sse.add_done();
      break;
    }
    const bool sent = co_await sse.flush();
    if (!sent) break;
  }
  if (!finished) {
    engine.abort(id);
    co_return;
  }
  co_await sse.close();
}

http::awaitable<void> full_response(Engine& engine, const std::string& id, const PreparedGeneration& gen,
                                    const ResponseFormat& format, OutputQueue& queue, http::ResponseWriter& writer) {
  std::string text;
  for (;;) {
    std::optional<std::deque<GenerationOutput>> batch = co_await next_outputs(queue, writer);
    if (!batch) {
      engine.abort(id);  // nobody is waiting for the answer any more
      co_return;
    }
    for (GenerationOutput& out : *batch) {
      text += out.text_delta;
      if (!out.finished) continue;
      if (out.finish_reason == FinishReason::kError) {
        co_await writer.send(error_response(output_error(out)));
      } else if (out.finish_reason == FinishReason::kAbort) {
        co_await writer.send(error_response(api_error(StatusCode::kUnavailable, "The request was aborted "
                                                                                "(the server is shutting down)")));
      } else {
        http::HttpResponse res;
        res.body = format.full(gen.meta, text, Finish{out.finish_reason, out.stop_reason}, usage_of(out));
        co_await writer.send(std::move(res));
      }
      co_return;
    }
  }
}

}  // namespace

http::awaitable<void> run_generation(Engine& engine, PreparedGeneration gen, const ResponseFormat& format,
                                     http::ResponseWriter& writer) {
  // Shared with the callback: the engine may deliver a last output after this coroutine has returned.
  auto queue = std::make_shared<OutputQueue>(writer.executor());
  const std::string id = gen.request.request_id;  // gen.request is moved into the engine
  Status submitted =
      engine.submit(std::move(gen.request), [queue](GenerationOutput out) { queue->push(std::move(out)); });
  if (!submitted.ok()) {
    PODSERVE_LOG(kDebug) << "request " << id << " refused: " << submitted.to_string();
    http::HttpResponse refused = error_response(ApiError{submitted, {}});
    co_await writer.send(std::move(refused));
    co_return;
  }
  if (gen.stream) {
    co_await stream_response(engine, id, gen, format, *queue, writer);
  } else {
    co_await full_response(engine, id, gen, format, *queue, writer);
  }
}

}  // namespace podserve::openai
