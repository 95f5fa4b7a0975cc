// mistral, on a vocabulary without [ARGS] (Mistral's pre-v11 tokenizers, read through Hugging Face's tokenizer):
// vLLM's MistralParser legacy path. The output is content, then [TOOL_CALLS] and a JSON array of
// {"name": ..., "arguments": {...}} (or one bare object):
//   Let me check.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]
// With tool_choice required / named, vLLM constrains the output to that array without the marker (and parses the
// request as "auto"), so the bare array is read then too. Calls get Mistral's 9-character ids.
// Streaming follows vLLM's ijson-driven state machine: each step's text is cut after the structural characters
// that can change the state, each piece goes through the event parser, and the name is sent whole once its
// string closes; an arguments object is streamed as its raw text, a string-valued one once it closes.
#include "serve/openai/tools/json_events.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

#include <algorithm>

namespace podserve::openai {
namespace {

namespace json = boost::json;

constexpr std::string_view kToolCalls = "[TOOL_CALLS]";

/// vLLM's _pre_v11_function_calls: a bare object is one call; elements without "name" or "arguments" are
/// skipped; a missing or non-string name is ""; string arguments are kept as they are.
std::vector<ExtractedCall> function_calls(const json::value& parsed) {
  std::vector<const json::value*> items;
  if (parsed.is_object()) {
    items.push_back(&parsed);
  } else if (parsed.is_array()) {
    for (const json::value& v : parsed.get_array()) items.push_back(&v);
  }
  std::vector<ExtractedCall> calls;
  for (const json::value* item : items) {
    const json::object* obj = item->if_object();
    if (obj == nullptr || (!obj->contains("name") && !obj->contains("arguments"))) continue;
    const json::value* name = obj->if_contains("name");
    const json::value* args = obj->if_contains("arguments");
    std::string arguments = "{}";
    if (args != nullptr && args->is_string()) {
      arguments = std::string(args->get_string());
    } else if (args != nullptr && !args->is_null()) {
      arguments = json_dumps(*args, false);
    }
    calls.push_back(ExtractedCall{make_mistral_tool_call_id(),
                                  name != nullptr && name->is_string() ? std::string(name->get_string()) : "",
                                  std::move(arguments)});
  }
  return calls;
}

/// The regex `\[{.*}\]` (DOTALL, greedy): from the first "[{" to the last "}]" after it.
std::optional<std::string_view> bracketed_objects(std::string_view s) {
  const size_t open = s.find("[{");
  if (open == std::string_view::npos) return std::nullopt;
  const size_t close = s.rfind("}]");
  if (close == std::string_view::npos || close < open + 2) return std::nullopt;
  return s.substr(open, close + 2 - open);
}

// vLLM's StreamingState.
enum class MistralState { kToolStart, kToolKey, kName, kNameDone, kArgsStart, kArgs, kArgsDone, kToolDone, kAllDone };

/// The step's text up to and including the first character that exhausts its stop count (vLLM's _split_delta).
struct Stops {
  int open_brace = -1, close_brace = -1, close_bracket = -1, colon = -1, comma = -1;
};
std::pair<std::string_view, std::string_view> split_delta(std::string_view text, Stops s) {
  for (size_t i = 0; i < text.size(); ++i) {
    int* counter = nullptr;
    switch (text[i]) {
      case '{': counter = &s.open_brace; break;
      case '}': counter = &s.close_brace; break;
      case ']': counter = &s.close_bracket; break;
      case ':': counter = &s.colon; break;
      case ',': counter = &s.comma; break;
      default: break;
    }
    if (counter != nullptr && --*counter == 0) return {text.substr(0, i + 1), text.substr(i + 1)};
  }
  return {text, {}};
}

class MistralJsonToolParser final : public ToolParser {
 public:
  explicit MistralJsonToolParser(const ToolParserContext& ctx)
      : has_tools_(ctx.tools != nullptr && !ctx.tools->empty()),
        marker_id_(ctx.vocab != nullptr ? ctx.vocab->token_id(kToolCalls) : std::nullopt) {}

  bool supports_required_and_named() const override { return false; }
  bool engine_based() const override { return true; }
  void set_tool_choice_none() override { choice_none_ = true; }
  void set_forced_tool_choice() override { forced_ = true; }

  ExtractedToolCalls extract(std::string_view output) override {
    const ExtractedToolCalls as_content{false, {}, std::string(output)};
    if (choice_none_ && has_tools_) return as_content;
    std::optional<std::string> content;
    std::string calls_text;
    const size_t marker = output.find(kToolCalls);
    if (marker != std::string_view::npos) {
      // Repeated markers with nothing between them count as one; text after a later marker is trailing text.
      content = std::string(output.substr(0, marker));
      std::string_view rest = output.substr(marker + kToolCalls.size());
      while (true) {
        const size_t next = rest.find(kToolCalls);
        const std::string segment = py_strip(rest.substr(0, next));
        if (!segment.empty() || next == std::string_view::npos) {
          calls_text = segment;
          break;
        }
        rest = rest.substr(next + kToolCalls.size());
      }
    } else if (forced_) {
      calls_text = py_strip(output);  // the guided bare array
    } else {
      return as_content;
    }
    std::optional<json::value> parsed;
    if (std::optional<RawDecoded> d = json_raw_decode(calls_text)) {
      parsed = std::move(d->value);
    } else if (std::optional<std::string_view> inner = bracketed_objects(calls_text)) {
      parsed = json_loads(*inner);
    }
    std::vector<ExtractedCall> calls = parsed ? function_calls(*parsed) : std::vector<ExtractedCall>{};
    if (calls.empty()) return ExtractedToolCalls{false, {}, calls_text};
    ExtractedToolCalls r{true, std::move(calls), std::nullopt};
    if (content && !py_is_blank(*content)) r.content = std::move(content);
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    const bool has_marker = marker_in(step);
    if (has_marker || (!started_ && !step.delta_text.empty() && forced_)) started_ = true;
    if (!started_) {
      DeltaMessage m;
      m.content = Field::of(std::string(step.delta_text));
      return m;
    }
    if (failed_) return std::nullopt;  // vLLM: the ijson coroutine raised; every later step raises too
    return stream_calls(step.delta_text, has_marker);
  }

 private:
  bool marker_in(const StreamStep& step) const {
    if (marker_id_ && std::find(step.delta_ids.begin(), step.delta_ids.end(), *marker_id_) != step.delta_ids.end()) {
      return true;
    }
    return step.delta_text.find(kToolCalls) != std::string_view::npos;
  }

  std::optional<DeltaMessage> stream_calls(std::string_view delta_text, bool has_marker);
  bool parse(std::string_view piece);
  void on_event(std::string_view prefix, JsonEvent event, std::string_view value);
  void finish_call(DeltaToolCall& call, std::vector<DeltaToolCall>& out);

  bool has_tools_;
  std::optional<int32_t> marker_id_;
  bool choice_none_ = false;
  bool forced_ = false;
  bool started_ = false;
  bool failed_ = false;

  JsonEventParser json_;
  MistralState state_ = MistralState::kToolStart;
  bool bare_object_ = false;
  bool starting_new_tool_ = false;
  std::optional<std::string> pending_name_;
  std::optional<std::string> pending_string_args_;
  std::optional<std::string> pending_id_;
  int current_ = -1;
};

bool MistralJsonToolParser::parse(std::string_view piece) {
  return json_.feed(piece, [this](std::string_view prefix, JsonEvent event, std::string_view value) {
    on_event(prefix, event, value);
  });
}

/// vLLM's update_stream_state_pre_v11_tokenizer, one ijson event at a time.
void MistralJsonToolParser::on_event(std::string_view raw_prefix, JsonEvent event, std::string_view value) {
  if (raw_prefix.empty() && event == JsonEvent::kStartMap) bare_object_ = true;  // one call, read as an item
  std::string prefix(raw_prefix);
  if (bare_object_) prefix = prefix.empty() ? "item" : "item." + prefix;
  if (prefix == "item" && event == JsonEvent::kStartMap) {
    state_ = MistralState::kToolKey;
    starting_new_tool_ = true;
  }
  if (prefix == "item" && event == JsonEvent::kMapKey && value == "name") state_ = MistralState::kName;
  if (prefix == "item.name" && event == JsonEvent::kString) {
    pending_name_ = std::string(value);
    state_ = MistralState::kNameDone;
  }
  if (prefix == "item" && event == JsonEvent::kMapKey && value == "arguments") state_ = MistralState::kArgsStart;
  if (prefix == "item.arguments" && event == JsonEvent::kStartMap) state_ = MistralState::kArgs;
  if (prefix == "item.arguments" && event == JsonEvent::kEndMap) state_ = MistralState::kArgsDone;
  if (prefix == "item.arguments" && event == JsonEvent::kString) pending_string_args_ = std::string(value);
  if (prefix == "item" && event == JsonEvent::kEndMap) state_ = bare_object_ ? MistralState::kAllDone : MistralState::kToolDone;
  if (prefix.empty() && event == JsonEvent::kEndArray) state_ = MistralState::kAllDone;
}

void MistralJsonToolParser::finish_call(DeltaToolCall& call, std::vector<DeltaToolCall>& out) {
  if (pending_id_) {
    call.id = Field::of(std::move(*pending_id_));
    pending_id_.reset();
  }
  if (call.arguments.has_value() && current_ >= 0) {
    streamed_args_[current_] += *call.arguments.value;
    prev_calls_[current_].arguments = streamed_args_[current_];
  }
  out.push_back(std::move(call));
}

/// vLLM's _extract_tool_calls_streaming_pre_v11_tokenizer.
std::optional<DeltaMessage> MistralJsonToolParser::stream_calls(std::string_view delta_text, bool has_marker) {
  std::optional<std::string> content;
  std::vector<DeltaToolCall> calls;
  auto fresh_call = [this] {
    DeltaToolCall c;
    c.index = current_;
    c.type = Field::of("function");
    return c;
  };
  DeltaToolCall call = fresh_call();
  bool modified = false;
  std::string rest_storage;
  if (has_marker) {
    // Text before the first marker is content; every marker is dropped from the rest.
    const size_t first = delta_text.find(kToolCalls);
    if (!delta_text.starts_with(kToolCalls)) content = std::string(delta_text.substr(0, first));
    if (first != std::string_view::npos) {
      std::string_view after = delta_text.substr(first + kToolCalls.size());
      for (size_t at; (at = after.find(kToolCalls)) != std::string_view::npos; after.remove_prefix(at + kToolCalls.size())) {
        rest_storage += after.substr(0, at);
      }
      rest_storage += after;
    }
    delta_text = rest_storage;
  }
  while (!delta_text.empty()) {
    const MistralState before = state_;
    std::string_view piece;
    switch (state_) {
      case MistralState::kToolStart: std::tie(piece, delta_text) = split_delta(delta_text, {.open_brace = 1}); break;
      case MistralState::kToolKey:
        std::tie(piece, delta_text) = split_delta(delta_text, {.open_brace = 1, .close_brace = 1, .colon = 1});
        break;
      case MistralState::kName:
        std::tie(piece, delta_text) = split_delta(delta_text, {.close_brace = 1, .close_bracket = 1, .comma = 1});
        break;
      case MistralState::kArgsStart:
        std::tie(piece, delta_text) = split_delta(delta_text, {.open_brace = 1, .close_brace = 1});
        break;
      case MistralState::kArgs: std::tie(piece, delta_text) = split_delta(delta_text, {.close_brace = 1}); break;
      case MistralState::kArgsDone:
      case MistralState::kNameDone:
        std::tie(piece, delta_text) = split_delta(delta_text, {.close_brace = 1, .close_bracket = 1});
        break;
      case MistralState::kToolDone:
        std::tie(piece, delta_text) = split_delta(delta_text, {.open_brace = 1, .close_bracket = 1});
        break;
      case MistralState::kAllDone:
        content = std::string(delta_text);
        delta_text = {};
        break;
    }
    if (state_ != MistralState::kAllDone && !parse(piece)) {
      failed_ = true;
      return std::nullopt;
    }
    if (starting_new_tool_) {
      starting_new_tool_ = false;
      if (modified) finish_call(call, calls);
      modified = false;
      ++current_;
      streamed_args_.emplace_back();
      prev_calls_.emplace_back();
      pending_id_ = make_mistral_tool_call_id();
      call = fresh_call();
    }
    call.has_function = true;
    if (current_ < 0 && (pending_name_ || pending_string_args_)) return std::nullopt;  // vLLM: an IndexError
    if (pending_name_) {
      modified = true;
      call.name = Field::of(*pending_name_);
      prev_calls_[current_].name = std::move(*pending_name_);
      pending_name_.reset();
    }
    if (pending_string_args_) {
      modified = true;
      call.arguments = Field::of(std::move(*pending_string_args_));
      pending_string_args_.reset();
    }
    if (state_ == MistralState::kNameDone) state_ = MistralState::kToolKey;
    if (state_ == MistralState::kArgs || state_ == MistralState::kArgsDone) {
      if (state_ == MistralState::kArgsDone) state_ = MistralState::kToolKey;
      modified = true;
      std::string args = call.arguments.value.value_or("") + std::string(piece);
      if (before != MistralState::kArgs) args = py_lstrip(args);  // the first chunk of the arguments
      call.arguments = Field::of(std::move(args));
    }
  }
  if (modified) finish_call(call, calls);
  if ((content && !content->empty()) || !calls.empty()) {
    DeltaMessage m;
    if (content && !content->empty()) m.content = Field::of(std::move(*content));
    m.tool_calls = std::move(calls);
    return m;
  }
  if (state_ == MistralState::kAllDone) return DeltaMessage{};
  return std::nullopt;
}

}  // namespace

std::unique_ptr<ToolParser> make_mistral_json_tool_parser(const ToolParserContext& ctx) {
  return std::make_unique<MistralJsonToolParser>(ctx);
}

}  // namespace podserve::openai
