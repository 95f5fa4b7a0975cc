#include "serve/openai/generate.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <algorithm>
#include <deque>
#include <memory>

#include "base/log.h"
#include "serve/http/async_queue.h"
#include "serve/http/sse.h"
#include "serve/openai/errors.h"

namespace podserve::openai {

using namespace boost::asio::experimental::awaitable_operators;  // NOLINT: `a || b` for racing awaitables

std::optional<std::string> ChatFormat::first_chunk(const ResponseMeta& meta, int index,
                                                   const std::vector<int32_t>* prompt_token_ids) const {
  ChoiceOutput opening;
  opening.index = index;
  if (prompt_token_ids != nullptr) opening.prompt_token_ids = *prompt_token_ids;
  return chat_chunk_json(meta, role_, opening, std::nullopt);
}
std::string ChatFormat::chunk(const ResponseMeta& meta, const ChoiceOutput& choice,
                              const std::optional<Usage>& usage) const {
  return chat_chunk_json(meta, std::nullopt, choice, usage);
}
std::string ChatFormat::usage_chunk(const ResponseMeta& meta, const Usage& usage) const {
  return chat_usage_chunk_json(meta, usage);
}
std::string ChatFormat::full(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                             const boost::json::value& prompt_logprobs) const {
  return chat_completion_json(meta, role_, choices, usage, prompt_logprobs);
}
boost::json::value ChatFormat::logprobs(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                                        size_t*) const {
  return chat_logprobs_json(tokens, bytes, top_n);
}

std::string CompletionFormat::chunk(const ResponseMeta& meta, const ChoiceOutput& choice,
                                    const std::optional<Usage>& usage) const {
  return completion_chunk_json(meta, choice, usage);
}
std::string CompletionFormat::usage_chunk(const ResponseMeta& meta, const Usage& usage) const {
  return completion_usage_chunk_json(meta, usage);
}
std::string CompletionFormat::full(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                                   const Usage& usage, const boost::json::value& prompt_logprobs) const {
  return completion_json(meta, choices, usage, prompt_logprobs);
}
boost::json::value CompletionFormat::logprobs(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes,
                                              int top_n, size_t* text_offset) const {
  return completion_logprobs_json(tokens, bytes, top_n, text_offset);
}

size_t held_bytes(const GenerationOutput& out) {
  auto logprobs_bytes = [](const std::vector<TokenLogprobs>& lps) {
    size_t n = lps.capacity() * sizeof(TokenLogprobs);
    for (const TokenLogprobs& lp : lps) n += lp.top.capacity() * sizeof(lp.top[0]);
    return n;
  };
  // The text's size, not its capacity: an empty string's capacity is its inline buffer, already in sizeof.
  return sizeof(GenerationOutput) + out.text_delta.size() + out.token_ids.capacity() * sizeof(int32_t) +
         logprobs_bytes(out.logprobs) + logprobs_bytes(out.prompt_logprobs);
}

namespace {

using OutputQueue = http::AsyncQueue<GenerationOutput>;

/// What the answer needs to know about the request, copied before the request moves into the engine.
struct RequestShape {
  std::string id;                // the first engine request's (logs)
  std::vector<std::string> ids;  // every engine request: one per prompt of a batch
  int n_per_prompt = 1;
  int n = 1;                     // all choices: prompts x n_per_prompt
  std::optional<int> top_logprobs;  // SamplingParams::logprobs
  bool prompt_logprobs = false;
  std::vector<int32_t> first_prompt_tokens;  // per prompt: the token an echo's logprobs start with
  std::vector<std::vector<int32_t>> prompt_tokens;  // per prompt, with return_token_ids or output parsers
};

/// One choice's progress.
struct ChoiceState {
  std::string text;
  std::vector<int32_t> token_ids;  // generated: full answers' return_token_ids, reasoning token counts
  std::vector<TokenLogprobs> logprobs;
  size_t text_offset = 0;  // completions' legacy logprobs, streaming
  bool echoed = false;     // the echo text went out with this choice's first chunk
  int completion_tokens = 0;
  std::optional<Finish> finish;
  std::unique_ptr<OutputParser> parser;  // chat with tool / reasoning parsers
  bool tools_streamed = false;
};

/// One parser per choice, when the request has parsing configured.
void make_parsers(const PreparedGeneration& gen, std::vector<ChoiceState>* choices) {
  if (!gen.parsing.make_parser) return;
  for (ChoiceState& c : *choices) c.parser = gen.parsing.make_parser();
}

/// usage.completion_tokens_details.reasoning_tokens over every choice, with a reasoning parser.
void add_reasoning_tokens(const PreparedGeneration& gen, const std::vector<ChoiceState>& choices, Usage* usage) {
  if (!gen.parsing.reasoning_tokens) return;
  int n = 0;
  for (const ChoiceState& c : choices) {
    if (c.parser) n += c.parser->count_reasoning_tokens(c.token_ids);
  }
  usage->reasoning_tokens = n;
}

/// Prompt tokens once per prompt, completion tokens of every choice (vLLM's usage for n > 1 and batches).
Usage total_usage(const std::vector<int>& prompt_tokens, const std::vector<ChoiceState>& choices) {
  Usage u;
  for (int p : prompt_tokens) u.prompt_tokens += p;
  for (const ChoiceState& c : choices) u.completion_tokens += c.completion_tokens;
  return u;
}

/// "token_id:N" in place of a token's text and bytes (vLLM's return_tokens_as_token_ids).
std::string token_id_placeholder(int32_t id) { return "token_id:" + std::to_string(id); }

/// The bytes function logprobs name tokens with.
TokenBytesFn logprob_bytes(const PreparedGeneration& gen) {
  if (gen.tokens_as_ids) return token_id_placeholder;
  return gen.token_bytes;
}

void abort_all(Engine& engine, const RequestShape& shape) {
  for (const std::string& id : shape.ids) engine.abort(id);
}

/// Which prompt of a batch choice `index` belongs to.
size_t prompt_of(const RequestShape& shape, int index) { return static_cast<size_t>(index / shape.n_per_prompt); }

/// The echo text of choice `index` (its prompt's).
const std::string& echo_of(const PreparedGeneration& gen, const RequestShape& shape, int index) {
  const size_t p = prompt_of(shape, index);
  return p == 0 || p > gen.extra_echo.size() ? gen.echo : gen.extra_echo[p - 1];
}

/// Keeps the first prompt logprobs each prompt's outputs bring (every choice's first update carries a copy).
void keep_prompt_logprobs(GenerationOutput& out, std::vector<TokenLogprobs>* kept) {
  if (kept->empty() && !out.prompt_logprobs.empty()) *kept = std::move(out.prompt_logprobs);
}

/// A request the engine ended early without an error of its own: the server is shutting down (its deadline
/// passed) or something else aborted it while the client still waits.
ApiError aborted_error() {
  return api_error(StatusCode::kUnavailable, "The request was aborted (the server is shutting down)");
}

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

/// Completes once the outputs waiting in `queue` weigh more than its limit, having aborted the request (its KV
/// blocks are freed and the engine stops producing for it, whether or not the blocked write can be cancelled);
/// or when cancelled, having done nothing.
http::awaitable<void> abort_when_over_limit(Engine& engine, const RequestShape& shape, OutputQueue& queue) {
  const bool over = co_await queue.wait_over_limit();
  if (over) abort_all(engine, shape);
}

http::awaitable<void> stream_response(Engine& engine, const RequestShape& shape, const PreparedGeneration& gen,
                                      const ResponseFormat& format, OutputQueue& queue, http::ResponseWriter& writer) {
  http::SseWriter sse(writer);
  const bool opened = co_await sse.open();
  if (!opened) {
    abort_all(engine, shape);
    co_return;
  }
  std::vector<ChoiceState> choices(static_cast<size_t>(shape.n));
  make_parsers(gen, &choices);
  std::vector<int> prompt_tokens(shape.ids.size(), 0);
  std::vector<std::vector<TokenLogprobs>> prompt_lps(shape.ids.size());
  const TokenBytesFn lp_bytes = logprob_bytes(gen);
  std::optional<int> cached_tokens;  // vLLM reports the first output's
  auto usage_now = [&] {
    Usage u = total_usage(prompt_tokens, choices);
    if (gen.prompt_tokens_details) u.cached_tokens = cached_tokens.value_or(0);
    add_reasoning_tokens(gen, choices, &u);
    return u;
  };
  int finished = 0;
  bool done = false;  // [DONE] queued
  bool first = true;
  while (!done) {
    std::optional<std::deque<GenerationOutput>> batch = co_await next_outputs(queue, writer);
    if (!batch) break;  // client gone
    for (GenerationOutput& out : *batch) {
      if (out.index < 0 || out.index >= shape.n || choices[static_cast<size_t>(out.index)].finish) continue;
      if (first) {
        // Like vLLM: every choice's role chunk goes out with the first engine output, i.e. after prefill.
        for (int i = 0; i < shape.n; ++i) {
          const std::vector<int32_t>* ids = gen.return_token_ids ? &shape.prompt_tokens[prompt_of(shape, i)] : nullptr;
          if (auto c = format.first_chunk(gen.meta, i, ids)) sse.add(*c);
        }
        first = false;
        cached_tokens = out.cached_tokens;
      }
      ChoiceState& state = choices[static_cast<size_t>(out.index)];
      const size_t p = prompt_of(shape, out.index);
      keep_prompt_logprobs(out, &prompt_lps[p]);
      prompt_tokens[p] = out.prompt_tokens;
      state.completion_tokens = gen.echo_only ? 0 : out.completion_tokens;
      if (out.finished && (out.finish_reason == FinishReason::kError || out.finish_reason == FinishReason::kAbort)) {
        // The 200 status is already sent: the error travels as an event, then [DONE] (vLLM's behaviour). An
        // abort reaching a client that is still here is the shutdown deadline: said as plainly.
        sse.add(error_json(out.finish_reason == FinishReason::kError ? output_error(out) : aborted_error()));
        sse.add_done();
        done = true;
        break;
      }
      if (gen.echo_only) {  // the token generated only to get the prompt's logprobs
        out.text_delta.clear();
        out.logprobs.clear();
        out.token_ids.clear();
      }
      ChoiceOutput piece;
      piece.index = out.index;
      piece.text = std::move(out.text_delta);
      const bool first_piece = !state.echoed;
      if (first_piece) {
        piece.text.insert(0, echo_of(gen, shape, out.index));
        state.echoed = true;
        if (gen.return_token_ids && format.prompt_ids_on_choice()) piece.prompt_token_ids = shape.prompt_tokens[p];
      }
      if (gen.return_token_ids) piece.token_ids = out.token_ids;
      if (shape.top_logprobs && gen.echo_logprobs && first_piece) {
        // Completions only (echo_logprobs is never set for chat): the prompt's tokens, then this update's.
        piece.logprobs = completion_echo_logprobs_json(shape.first_prompt_tokens[p], prompt_lps[p], out.logprobs,
                                                       lp_bytes, *shape.top_logprobs, &state.text_offset);
      } else if (shape.top_logprobs && !out.logprobs.empty()) {
        piece.logprobs = format.logprobs(out.logprobs, lp_bytes, *shape.top_logprobs, &state.text_offset);
      }
      if (state.parser) {
        // vLLM's parse_delta: the text and ids of this step; the prompt tells whether reasoning already ended.
        state.token_ids.insert(state.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
        piece.delta = state.parser->parse_delta(piece.text, out.token_ids, shape.prompt_tokens[p], out.finished);
        if (piece.delta && !piece.delta->tool_calls.empty()) state.tools_streamed = true;
        filter_parallel_tool_calls(gen.parsing.settings, piece.delta ? &*piece.delta : nullptr);
        // As vLLM: a step the parser holds back still goes out when it ends, has logprobs or returns token ids.
        if (!piece.delta && (out.finished || !piece.logprobs.is_null() || gen.return_token_ids)) {
          piece.delta = DeltaMessage{};
        }
      }
      if (out.finished) {
        piece.finish = gen.echo_only ? Finish{FinishReason::kLength, {}}
                                     : Finish{out.finish_reason, std::move(out.stop_reason)};
        state.finish = piece.finish;
        if (state.tools_streamed && gen.parsing.settings.tool_choice.kind != ToolChoice::kNamed &&
            piece.finish->reason == FinishReason::kStop) {
          piece.finish_reason_override = "tool_calls";
        }
        ++finished;
      } else if (state.parser ? !piece.delta
                              : (piece.text.empty() && piece.logprobs.is_null() &&
                                 !(piece.token_ids && !piece.token_ids->empty()))) {
        continue;  // nothing to say yet (a stop string held back); with return_token_ids every token is sent
      }
      std::optional<Usage> running_usage;
      if (gen.continuous_usage) running_usage = total_usage(prompt_tokens, choices);
      sse.add(format.chunk(gen.meta, piece, running_usage));
      if (finished == shape.n) {
        if (gen.include_usage) sse.add(format.usage_chunk(gen.meta, usage_now()));
        sse.add_done();
        done = true;
        break;
      }
    }
    // While this write waits for a client that does not read, the engine keeps producing into the queue: past
    // the backlog limit the request is aborted and the client dropped (the write is cancelled, the connection
    // closed), so a stalled reader holds neither unbounded memory nor its KV blocks.
    auto flushed = co_await (sse.flush() || abort_when_over_limit(engine, shape, queue));
    if (flushed.index() == 1) {
      PODSERVE_LOG(kWarning) << "request " << shape.id << ": the client stopped reading its stream (over "
                             << gen.max_backlog_bytes << " bytes of output waiting); dropping it";
      break;
    }
    if (!std::get<0>(flushed)) break;
  }
  if (!done || finished < shape.n) abort_all(engine, shape);  // client gone, or an error ended the stream early
  if (!done) co_return;
  co_await sse.close();
}

http::awaitable<void> full_response(Engine& engine, const RequestShape& shape, const PreparedGeneration& gen,
                                    const ResponseFormat& format, OutputQueue& queue, http::ResponseWriter& writer) {
  std::vector<ChoiceState> choices(static_cast<size_t>(shape.n));
  make_parsers(gen, &choices);
  std::vector<std::vector<TokenLogprobs>> prompt_lps(shape.ids.size());
  std::vector<int> prompt_tokens(shape.ids.size(), 0);
  std::vector<int> cached(shape.ids.size(), 0);
  const TokenBytesFn lp_bytes = logprob_bytes(gen);
  int finished = 0;
  while (finished < shape.n) {
    std::optional<std::deque<GenerationOutput>> batch = co_await next_outputs(queue, writer);
    if (!batch) {
      abort_all(engine, shape);  // nobody is waiting for the answer any more
      co_return;
    }
    for (GenerationOutput& out : *batch) {
      if (out.index < 0 || out.index >= shape.n || choices[static_cast<size_t>(out.index)].finish) continue;
      ChoiceState& state = choices[static_cast<size_t>(out.index)];
      const size_t p = prompt_of(shape, out.index);
      if (!gen.echo_only) {  // echo_only: the one generated token only served to get the prompt's logprobs
        state.text += out.text_delta;
        state.logprobs.insert(state.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
        state.token_ids.insert(state.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
        state.completion_tokens = out.completion_tokens;
      }
      keep_prompt_logprobs(out, &prompt_lps[p]);
      prompt_tokens[p] = out.prompt_tokens;
      cached[p] = out.cached_tokens;
      if (!out.finished) continue;
      if (out.finish_reason == FinishReason::kError || out.finish_reason == FinishReason::kAbort) {
        if (shape.n > 1) abort_all(engine, shape);  // the other choices are of no use now
        http::HttpResponse res =
            error_response(out.finish_reason == FinishReason::kError ? output_error(out) : aborted_error());
        co_await writer.send(std::move(res));
        co_return;
      }
      state.finish = gen.echo_only ? Finish{FinishReason::kLength, {}}
                                   : Finish{out.finish_reason, std::move(out.stop_reason)};
      ++finished;
    }
  }
  std::vector<ChoiceOutput> results(static_cast<size_t>(shape.n));
  for (int i = 0; i < shape.n; ++i) {
    ChoiceState& state = choices[static_cast<size_t>(i)];
    ChoiceOutput& c = results[static_cast<size_t>(i)];
    const size_t p = prompt_of(shape, i);
    c.index = i;
    c.text = echo_of(gen, shape, i) + state.text;
    if (shape.top_logprobs) {
      size_t offset = 0;
      c.logprobs = gen.echo_logprobs  // completions only
                       ? completion_echo_logprobs_json(shape.first_prompt_tokens[p], prompt_lps[p], state.logprobs,
                                                       lp_bytes, *shape.top_logprobs, &offset)
                       : format.logprobs(state.logprobs, lp_bytes, *shape.top_logprobs, &offset);
    }
    if (gen.return_token_ids) {
      c.token_ids = state.token_ids;
      c.prompt_token_ids = shape.prompt_tokens[p];
    }
    c.finish = state.finish;
    if (shape.prompt_logprobs) c.prompt_logprobs = prompt_logprobs_json(prompt_lps[p], gen.token_bytes);
    if (state.parser) {
      ChatChoiceResult r = chat_choice_message(gen.parsing.settings, state.parser->parse(state.text, state.token_ids),
                                               state.finish ? state.finish->reason : FinishReason::kStop);
      if (!echo_of(gen, shape, i).empty()) r.message.content = echo_of(gen, shape, i) + r.message.content.value_or("");
      c.message = std::move(r.message);
      c.finish_reason_override = std::move(r.finish_override);
    }
  }
  boost::json::value prompt_json = nullptr;
  if (shape.prompt_logprobs) prompt_json = prompt_logprobs_json(prompt_lps[0], gen.token_bytes);
  Usage usage = total_usage(prompt_tokens, choices);
  if (gen.prompt_tokens_details) usage.cached_tokens = cached.back();  // vLLM reports the last prompt's
  add_reasoning_tokens(gen, choices, &usage);
  http::HttpResponse res;
  res.body = format.full(gen.meta, results, usage, prompt_json);
  co_await writer.send(std::move(res));
}

http::awaitable<void> echo_only_response(const RequestShape& shape, const PreparedGeneration& gen,
                                          const ResponseFormat& format, http::ResponseWriter& writer) {
  Usage usage{static_cast<int>(gen.request.prompt_tokens.size()), 0};
  if (gen.prompt_tokens_details) usage.cached_tokens = 0;  // nothing went through the engine
  for (const GenerationRequest& r : gen.extra_requests) usage.prompt_tokens += static_cast<int>(r.prompt_tokens.size());
  std::vector<ChoiceOutput> results(static_cast<size_t>(shape.n));
  for (int i = 0; i < shape.n; ++i) {
    ChoiceOutput& c = results[static_cast<size_t>(i)];
    c.index = i;
    c.text = echo_of(gen, shape, i);
    c.finish = Finish{FinishReason::kLength, {}};
    if (gen.return_token_ids) {
      c.token_ids.emplace();
      c.prompt_token_ids = shape.prompt_tokens[prompt_of(shape, i)];
    }
  }
  if (!gen.stream) {
    boost::json::value prompt_json = nullptr;
    http::HttpResponse res;
    res.body = format.full(gen.meta, results, usage, prompt_json);
    co_await writer.send(std::move(res));
    co_return;
  }
  http::SseWriter sse(writer);
  const bool opened = co_await sse.open();
  if (!opened) co_return;
  for (int i = 0; i < shape.n; ++i) {
    const std::vector<int32_t>* ids = gen.return_token_ids ? &shape.prompt_tokens[prompt_of(shape, i)] : nullptr;
    if (auto c = format.first_chunk(gen.meta, i, ids)) sse.add(*c);
  }
  for (const ChoiceOutput& c : results) {
    std::optional<Usage> running;
    if (gen.continuous_usage) running = usage;
    sse.add(format.chunk(gen.meta, c, running));
  }
  if (gen.include_usage) sse.add(format.usage_chunk(gen.meta, usage));
  sse.add_done();
  const bool sent = co_await sse.flush();
  if (!sent) co_return;
  co_await sse.close();
}

}  // namespace

http::awaitable<void> run_generation(Engine& engine, PreparedGeneration gen, const ResponseFormat& format,
                                     http::ResponseWriter& writer) {
  // Shared with the callback: the engine may deliver a last output after this coroutine has returned.
  auto queue = std::make_shared<OutputQueue>(writer.executor(), gen.stream ? gen.max_backlog_bytes : 0, held_bytes);
  RequestShape shape;  // gen.request is moved into the engine
  shape.id = gen.request.request_id;
  shape.n_per_prompt = std::max(1, gen.request.params.n);
  shape.n = shape.n_per_prompt * static_cast<int>(1 + gen.extra_requests.size());
  shape.ids.push_back(shape.id);
  for (const GenerationRequest& r : gen.extra_requests) shape.ids.push_back(r.request_id);
  shape.top_logprobs = gen.request.params.logprobs;
  shape.prompt_logprobs = gen.request.params.prompt_logprobs.has_value();
  auto first_token = [](const GenerationRequest& r) { return r.prompt_tokens.empty() ? 0 : r.prompt_tokens[0]; };
  if (gen.return_token_ids || gen.parsing.make_parser) {
    shape.prompt_tokens.push_back(gen.request.prompt_tokens);
    for (const GenerationRequest& r : gen.extra_requests) shape.prompt_tokens.push_back(r.prompt_tokens);
  }
  shape.first_prompt_tokens.push_back(first_token(gen.request));
  for (const GenerationRequest& r : gen.extra_requests) shape.first_prompt_tokens.push_back(first_token(r));
  if (gen.engine_error) {
    if (!gen.stream) {
      co_await writer.send(error_response(*gen.engine_error));
      co_return;
    }
    http::SseWriter sse(writer);
    if (!co_await sse.open()) co_return;
    sse.add(error_json(*gen.engine_error));
    sse.add_done();
    if (co_await sse.flush()) co_await sse.close();
    co_return;
  }
  if (gen.request.params.max_tokens == 0) {
    // echo with max_tokens 0: the echo is the whole answer; nothing to generate (vLLM's behaviour).
    co_await echo_only_response(shape, gen, format, writer);
    co_return;
  }
  Status submitted =
      engine.submit(std::move(gen.request), [queue](GenerationOutput out) { queue->push(std::move(out)); });
  for (size_t p = 0; submitted.ok() && p < gen.extra_requests.size(); ++p) {
    // A batch's prompt p: its choices are p * n + j in the answer.
    const int offset = static_cast<int>(p + 1) * shape.n_per_prompt;
    submitted = engine.submit(std::move(gen.extra_requests[p]), [queue, offset](GenerationOutput out) {
      out.index += offset;
      queue->push(std::move(out));
    });
    if (!submitted.ok()) abort_all(engine, shape);  // the prompts already queued are of no use now
  }
  if (!submitted.ok()) {
    PODSERVE_LOG(kDebug) << "request " << shape.id << " refused: " << submitted.to_string();
    http::HttpResponse refused = error_response(ApiError{submitted, {}});
    co_await writer.send(std::move(refused));
    co_return;
  }
  if (gen.stream) {
    co_await stream_response(engine, shape, gen, format, *queue, writer);
  } else {
    co_await full_response(engine, shape, gen, format, *queue, writer);
  }
}

}  // namespace podserve::openai
