// RunPod's OpenAI-compatible base URL /v2/<id>/openai/v1/...: each request becomes a job
// {"openai_route": "/v1/...", "openai_input": <body or {}>}; the answer is the job's one output, or for
// `stream: true` the worker's stream items relayed as text/event-stream.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "endpoint/endpoint_service.h"
#include "endpoint/job_json.h"

namespace podserve::endpoint {
namespace {

namespace json = boost::json;

constexpr std::string_view kDone = "data: [DONE]\n\n";

/// OpenAI's error shape.
std::string openai_error(int status, std::string_view message) {
  json::object e{{"message", message}, {"type", status == 404 ? "NotFoundError" : "BadRequestError"},
                 {"param", nullptr}, {"code", status}};
  return json::serialize(json::object{{"error", std::move(e)}});
}

/// One stream item as SSE text: raw SSE strings (RAW_OPENAI_OUTPUT=1) as they are, chunk lists as events.
std::string item_as_sse(const json::value& item) {
  if (item.is_string()) return std::string(item.as_string());
  std::string out;
  if (item.is_array()) {
    for (const json::value& chunk : item.as_array()) out += "data: " + json::serialize(chunk) + "\n\n";
  } else {
    out += "data: " + json::serialize(item) + "\n\n";
  }
  return out;
}

/// The SDK posts a dict-valued error as Python's repr (`{'message': '…', 'code': 404, 'param': None}`, §2.6):
/// turned into JSON text so the original message and code reach the OpenAI client. Unparseable input stays as it is.
std::string python_repr_to_json(std::string_view in) {
  std::string out;
  size_t i = 0;
  auto word = [&](std::string_view w) { return in.substr(i, w.size()) == w; };
  while (i < in.size()) {
    const char c = in[i];
    if (c == '\'' || c == '"') {
      out += '"';
      for (++i; i < in.size() && in[i] != c; ++i) {
        if (in[i] == '\\' && i + 1 < in.size()) {
          if (in[i + 1] == '\'') {
            out += '\'';
          } else {
            out += in.substr(i, 2);
          }
          ++i;
        } else if (in[i] == '"') {
          out += "\\\"";
        } else {
          out += in[i];
        }
      }
      out += '"';
      ++i;
    } else if (word("None")) {
      out += "null";
      i += 4;
    } else if (word("True")) {
      out += "true";
      i += 4;
    } else if (word("False")) {
      out += "false";
      i += 5;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

/// A failed job's error as an OpenAI error body and status: the worker's own error object when it is one.
std::pair<int, std::string> failure_response(const Job& job) {
  const std::string message = job.error.value_or(std::string("job ") + job_status_name(job.status));
  boost::system::error_code ec;
  json::value v = json::parse(message, ec);
  if (ec && !message.empty() && message.front() == '{') v = json::parse(python_repr_to_json(message), ec);
  if (!ec && v.is_object()) {
    const json::object* err = &v.as_object();
    if (auto inner = err->find("error"); inner != err->end() && inner->value().is_object()) {
      err = &inner->value().as_object();
    }
    int status = 400;
    if (auto code = err->find("code"); code != err->end() && code->value().is_int64()) {
      const int64_t c = code->value().as_int64();
      if (c >= 400 && c < 600) status = static_cast<int>(c);
    }
    return {status, json::serialize(json::object{{"error", *err}})};
  }
  const int status = job.status == JobStatus::kTimedOut ? 504 : job.status == JobStatus::kCancelled ? 499 : 400;
  return {status, openai_error(status, message)};
}

}  // namespace

http::awaitable<void> EndpointService::openai(const http::HttpRequest& req, std::string route,
                                             http::ResponseWriter& w) {
  const bool models = route == "/v1/models";
  if (!models && route != "/v1/chat/completions" && route != "/v1/completions") {
    http::HttpResponse res{404, "application/json", openai_error(404, "no OpenAI route " + route)};
    co_await w.send(std::move(res));
    co_return;
  }
  if (models != (req.method == "GET")) {
    http::HttpResponse res{405, "application/json", openai_error(405, "use " + std::string(models ? "GET" : "POST") +
                                                                          " for " + route)};
    co_await w.send(std::move(res));
    co_return;
  }
  json::value body = json::object();
  if (!models) {
    boost::system::error_code ec;
    body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      http::HttpResponse res{400, "application/json", openai_error(400, "the body must be a JSON object")};
      co_await w.send(std::move(res));
      co_return;
    }
  }
  const auto* stream_flag = body.as_object().if_contains("stream");
  const bool streaming = stream_flag && stream_flag->is_bool() && stream_flag->as_bool();
  NewJob job;
  job.id = "oai-" + random_uuid();
  job.sync = true;
  job.execution_timeout_ms = config_.execution_timeout_ms;
  job.ttl_ms = config_.ttl_ms;
  job.input_json = json::serialize(json::object{{"openai_route", route}, {"openai_input", std::move(body)}});
  if (Status st = store_.submit(job, wall_ms()); !st.ok()) {
    http::HttpResponse res{500, "application/json", openai_error(500, st.message())};
    co_await w.send(std::move(res));
    co_return;
  }
  if (!streaming) {
    for (;;) {
      const uint64_t seen = store_.change_count();
      std::optional<Job> j = store_.get(job.id);
      if (!j) break;
      if (j->status == JobStatus::kCompleted) {
        // The aggregated output of a generator handler is a one-element list; a plain handler's is the object.
        json::value out = j->output_json ? parse_stored(*j->output_json) : json::value();
        if (out.is_array() && out.as_array().size() == 1) out = out.as_array()[0];
        std::string text = out.is_string() ? std::string(out.as_string()) : json::serialize(out);
        http::HttpResponse res{200, "application/json", std::move(text)};
        co_await w.send(std::move(res));
        co_return;
      }
      if (is_terminal(j->status)) {
        auto [status, text] = failure_response(*j);
        http::HttpResponse res{status, "application/json", std::move(text)};
        co_await w.send(std::move(res));
        co_return;
      }
      co_await wait_for_change(w, store_, seen, kChangeBackstopMs);
    }
    http::HttpResponse res{500, "application/json", openai_error(500, "the job disappeared")};
    co_await w.send(std::move(res));
    co_return;
  }
  const bool opened = co_await w.begin_stream(200, "text/event-stream");
  if (!opened) {
    (void)store_.cancel(job.id, wall_ms());
    co_return;
  }
  std::string sent_tail;  // to add [DONE] only when the worker's stream did not end with it
  for (;;) {
    const uint64_t seen = store_.change_count();
    Result<StreamPoll> poll = store_.poll_stream(job.id);
    if (!poll.ok()) break;
    std::string text;
    for (const std::string& item : poll->items) text += item_as_sse(parse_stored(item));
    const bool terminal = is_terminal(poll->job.status);
    if (terminal && poll->job.status != JobStatus::kCompleted) {
      text += "data: " + failure_response(poll->job).second + "\n\n";
    }
    if (!text.empty()) {
      sent_tail = text.size() >= kDone.size() ? text.substr(text.size() - kDone.size()) : text;
      const bool alive = co_await w.write(std::move(text));
      if (!alive) {  // the client went away: the job is cancelled and its worker told to stop
        (void)store_.cancel(job.id, wall_ms());
        co_return;
      }
    }
    if (terminal) break;
    co_await wait_for_change(w, store_, seen, kChangeBackstopMs);
  }
  if (sent_tail != kDone) {
    const bool alive = co_await w.write(std::string(kDone));
    (void)alive;
  }
  co_await w.end_stream();
}

}  // namespace podserve::endpoint
