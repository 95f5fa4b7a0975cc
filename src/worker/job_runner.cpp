#include "worker/job_runner.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "worker/job_input.h"

namespace podserve::worker {
namespace {

namespace json = boost::json;

std::optional<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

/// The `error` object of an OpenAI error body, or nullptr.
const json::object* error_object(const json::value& body) {
  if (!body.is_object()) return nullptr;
  const json::value* e = body.get_object().if_contains("error");
  return e != nullptr && e->is_object() ? &e->get_object() : nullptr;
}

int error_code(const json::object& error) {
  const json::value* c = error.if_contains("code");
  return c != nullptr && c->is_int64() ? static_cast<int>(c->get_int64()) : 0;
}

/// Splits SSE text into the payloads of its `data: ` events; `pending` keeps an unfinished event.
void split_events(std::string* pending, std::string_view data, std::vector<std::string>* events) {
  pending->append(data);
  size_t start = 0;
  for (size_t end = pending->find("\n\n"); end != std::string::npos; end = pending->find("\n\n", start)) {
    events->push_back(pending->substr(start, end + 2 - start));
    start = end + 2;
  }
  pending->erase(0, start);
}

std::string_view event_payload(std::string_view event) {
  if (event.starts_with("data: ")) event.remove_prefix(6);
  while (!event.empty() && event.back() == '\n') event.remove_suffix(1);
  return event;
}

/// Builds native items from a stream of chat or completion chunks.
class NativeBatcher {
 public:
  NativeBatcher(const JobPlan& plan, const std::function<void(json::value)>& emit)
      : plan_(plan), emit_(emit), counter_(plan.batch) {
    reset();
  }

  /// One parsed chunk.
  void add(const json::object& chunk) {
    if (const json::value* u = chunk.if_contains("usage"); u != nullptr && u->is_object()) read_usage(u->get_object());
    const json::value* choices = chunk.if_contains("choices");
    if (choices == nullptr || !choices->is_array()) return;
    for (const json::value& c : choices->get_array()) {
      if (!c.is_object()) continue;
      const json::object& choice = c.get_object();
      const json::value* idx = choice.if_contains("index");
      const int index = idx != nullptr && idx->is_int64() ? static_cast<int>(idx->get_int64()) : 0;
      if (index < 0 || index >= plan_.native_n) continue;
      std::string text;
      if (plan_.native_chat) {
        const json::value* delta = choice.if_contains("delta");
        if (delta == nullptr || !delta->is_object()) continue;
        if (delta->get_object().contains("role")) continue;  // the opening chunk: not an engine step
        const json::value* content = delta->get_object().if_contains("content");
        if (content != nullptr && content->is_string()) text = content->get_string();
      } else {
        const json::value* t = choice.if_contains("text");
        if (t != nullptr && t->is_string()) text = t->get_string();
      }
      batch_[static_cast<size_t>(index)].emplace_back(std::move(text));
      if (counter_.add()) flush();
    }
  }
  /// The last partial batch.
  void finish() {
    if (counter_.pending() > 0) flush();
  }

 private:
  void read_usage(const json::object& u) {
    if (const json::value* p = u.if_contains("prompt_tokens"); p != nullptr && p->is_int64()) input_ = p->get_int64();
    if (const json::value* c = u.if_contains("completion_tokens"); c != nullptr && c->is_int64()) {
      output_ = c->get_int64();
    }
  }
  void reset() { batch_.assign(static_cast<size_t>(plan_.native_n), json::array()); }
  void flush() {
    json::array choices;
    for (json::array& tokens : batch_) choices.push_back(json::object{{"tokens", std::move(tokens)}});
    emit_(json::object{{"choices", std::move(choices)}, {"usage", {{"input", input_}, {"output", output_}}}});
    reset();
  }

  const JobPlan& plan_;
  const std::function<void(json::value)>& emit_;
  BatchCounter counter_;
  std::vector<json::array> batch_;
  int64_t input_ = 0;
  int64_t output_ = 0;
};

/// Builds OpenAI stream items: raw SSE text (RAW_OPENAI_OUTPUT=1) or lists of parsed chunks.
class OpenAiBatcher {
 public:
  OpenAiBatcher(const JobPlan& plan, bool raw, const std::function<void(json::value)>& emit)
      : raw_(raw), emit_(emit), counter_(plan.batch) {}

  void add(const std::string& event) {
    if (event.find("data") == std::string::npos) return;
    if (raw_) {
      text_ += event;
    } else {
      const std::string_view payload = event_payload(event);
      if (payload == "[DONE]") return;
      std::optional<json::value> chunk = parse_json(payload);
      list_.push_back(chunk ? std::move(*chunk) : json::value(std::string(payload)));
    }
    if (counter_.add()) flush();
  }
  void finish() {
    if (counter_.pending() > 0 || !text_.empty() || !list_.empty()) flush();
  }

 private:
  void flush() {
    if (raw_) {
      emit_(json::value(std::move(text_)));
      text_.clear();
    } else {
      emit_(json::value(std::move(list_)));
      list_ = json::array();
    }
  }

  bool raw_;
  const std::function<void(json::value)>& emit_;
  BatchCounter counter_;
  std::string text_;
  json::array list_;
};

/// A native job's error: the plain message (the classic worker's `{"error": str(e)}`).
std::string native_error(const json::value& body, std::string_view fallback) {
  if (const json::object* e = error_object(body)) {
    if (const json::value* m = e->if_contains("message"); m != nullptr && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return std::string(fallback);
}

/// An OpenAI job's error: repr() of the `error` object, as `str(item["error"])` in the SDK.
std::string openai_error(const json::value& body, std::string_view fallback) {
  if (const json::object* e = error_object(body)) return python_repr(*e);
  return std::string(fallback);
}

/// The native item of a whole (non-streamed) completion or chat answer; nullopt if it is not shaped as one.
std::optional<json::value> native_item(const JobPlan& plan, const json::object& body) {
  try {
    json::array choices(static_cast<size_t>(plan.native_n), json::object{{"tokens", json::array{""}}});
    for (const json::value& c : body.at("choices").as_array()) {
      const json::object& choice = c.as_object();
      const int64_t index = choice.at("index").to_number<int64_t>();
      if (index < 0 || index >= plan.native_n) continue;
      const json::value& text = plan.native_chat ? choice.at("message").at("content") : choice.at("text");
      choices[static_cast<size_t>(index)] =
          json::object{{"tokens", json::array{text.is_string() ? text : json::value("")}}};
    }
    const json::object& usage = body.at("usage").as_object();
    return json::object{{"choices", std::move(choices)},
                        {"usage", {{"input", usage.at("prompt_tokens")}, {"output", usage.at("completion_tokens")}}}};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

void JobControl::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (call_ != nullptr) call_->cancel();
}

bool JobControl::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool JobControl::attach(RouteCall* call) {
  std::lock_guard<std::mutex> lock(mu_);
  call_ = call;
  if (cancelled_) call->cancel();
  return !cancelled_;
}

void JobControl::detach() {
  std::lock_guard<std::mutex> lock(mu_);
  call_ = nullptr;
}

JobOutcome run_job(const json::value& input, const WorkerConfig& config, InProcessRoutes& routes,
                   JobControl& control, const std::function<void(const json::value&)>& on_item) {
  JobOutcome outcome;
  Result<JobPlan> planned = plan_job(input, config);
  if (!planned.ok()) {
    outcome.error = planned.status().message();
    return outcome;
  }
  const JobPlan& plan = planned.value();
  const std::function<void(json::value)> emit = [&](json::value item) {
    if (control.cancelled()) return;  // a stopped job posts nothing more
    on_item(item);
    outcome.items.push_back(std::move(item));
  };
  NativeBatcher native(plan, emit);
  OpenAiBatcher openai(plan, config.raw_openai_output, emit);

  RouteCall call = routes.start(plan.method, plan.path, plan.body);
  control.attach(&call);
  std::vector<RouteEvent> events;
  std::string pending;
  bool streamed = false;
  while (call.next(&events)) {
    for (RouteEvent& e : events) {
      if (outcome.error) break;
      if (e.kind == RouteEvent::kResponse) {
        std::optional<json::value> body = parse_json(e.body);
        const std::string fallback = "HTTP " + std::to_string(e.status) + ": " + e.body;
        if (e.status >= 400) {
          outcome.error = plan.native ? native_error(body.value_or(nullptr), fallback)
                                      : openai_error(body.value_or(nullptr), fallback);
          outcome.fatal = e.status >= 500 && e.status != 503;
        } else if (plan.native) {
          if (!body || !body->is_object()) {
            outcome.error = "unexpected answer from " + plan.path;
            continue;
          }
          // One item: each choice's whole text, and the real token counts.
          std::optional<json::value> item = native_item(plan, body->get_object());
          if (!item) {
            outcome.error = "unexpected answer from " + plan.path;
            continue;
          }
          emit(std::move(*item));
        } else {
          emit(body ? std::move(*body) : json::value(e.body));
        }
      } else if (e.kind == RouteEvent::kStreamBegin) {
        streamed = true;
      } else if (e.kind == RouteEvent::kData) {
        std::vector<std::string> sse;
        split_events(&pending, e.body, &sse);
        for (const std::string& event : sse) {
          if (plan.native) {
            const std::string_view payload = event_payload(event);
            if (payload == "[DONE]") continue;
            std::optional<json::value> chunk = parse_json(payload);
            if (!chunk || !chunk->is_object()) continue;
            if (const json::object* err = error_object(*chunk)) {  // an engine failure after the stream began
              outcome.error = native_error(*chunk, "generation failed");
              outcome.fatal = error_code(*err) >= 500 && error_code(*err) != 503;
              break;
            }
            native.add(chunk->get_object());
          } else {
            openai.add(event);
            if (event.find("\"error\"") != std::string::npos) {
              std::optional<json::value> chunk = parse_json(event_payload(event));
              if (chunk) {
                if (const json::object* err = error_object(*chunk)) {
                  outcome.fatal = error_code(*err) >= 500 && error_code(*err) != 503;
                }
              }
            }
          }
        }
      }
    }
    events.clear();
    if (outcome.error) break;
  }
  control.detach();
  if (control.cancelled()) {
    outcome.cancelled = true;
    return outcome;
  }
  if (outcome.error) return outcome;
  if (streamed) {
    if (plan.native) {
      native.finish();
    } else {
      openai.finish();
    }
  }
  return outcome;
}

std::string python_repr(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "None";
    case json::kind::bool_: return v.get_bool() ? "True" : "False";
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
      std::string out(buf, ec == std::errc() ? end : buf);
      if (out.find_first_of(".eni") == std::string::npos) out += ".0";  // Python writes 2.0, not 2
      return out;
    }
    case json::kind::string: {
      const std::string_view s = v.get_string();
      // Python picks double quotes when the text has a ' and no ".
      const char q = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
      std::string out(1, q);
      for (char ch : s) {
        if (ch == '\\') {
          out += "\\\\";
        } else if (ch == q) {
          out += '\\';
          out += ch;
        } else if (ch == '\n') {
          out += "\\n";
        } else if (ch == '\r') {
          out += "\\r";
        } else if (ch == '\t') {
          out += "\\t";
        } else {
          out += ch;
        }
      }
      out += q;
      return out;
    }
    case json::kind::array: {
      std::string out = "[";
      for (const json::value& e : v.get_array()) out += (out.size() > 1 ? ", " : "") + python_repr(e);
      return out + "]";
    }
    case json::kind::object: {
      std::string out = "{";
      for (const auto& [k, e] : v.get_object()) {
        out += (out.size() > 1 ? ", " : "") + python_repr(json::value(k)) + ": " + python_repr(e);
      }
      return out + "}";
    }
  }
  return "";
}

}  // namespace podserve::worker
