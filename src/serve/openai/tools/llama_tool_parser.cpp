// llama3_json / llama4_json (vLLM's Llama3JsonToolParser): an optional `<|python_tag|>`, then JSON objects
// `{"name": ..., "parameters"|"arguments": {...}}` separated by "; ". Whole output: every `{` outside an object
// already decoded starts one; any that fails to decode or lacks a key makes the whole output content; with
// calls the content is null. Streaming (only when the text starts with the tag or `{`): the objects are read as
// partial JSON each step; a call is announced (id, name) once its name is complete, then its arguments stream
// as the common prefix of json.dumps of the parsed arguments between steps, the rest when the object closes.
#include <boost/json/object.hpp>

#include "chat/py_string.h"
#include "serve/openai/tools/partial_json.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

constexpr std::string_view kBotToken = "<|python_tag|>";

/// Python truthiness of a JSON value.
bool python_truthy(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return false;
    case json::kind::bool_: return v.get_bool();
    case json::kind::int64: return v.get_int64() != 0;
    case json::kind::uint64: return v.get_uint64() != 0;
    case json::kind::double_: return v.get_double() != 0.0;
    case json::kind::string: return !v.get_string().empty();
    case json::kind::array: return !v.get_array().empty();
    case json::kind::object: return !v.get_object().empty();
  }
  return false;
}

/// `obj.get(key)`: nullopt where Python raises (obj is not a dict); null when absent.
std::optional<json::value> get(const json::value& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  const json::value* v = obj.get_object().if_contains(key);
  return v ? *v : json::value(nullptr);
}

/// The parser's rename of `parameters` to `arguments`; false where Python raises (`"parameters" in obj` on a
/// number, both keys present, item assignment on a list or string).
bool normalize_call(json::value& obj) {
  if (obj.is_object()) {
    json::object& o = obj.get_object();
    if (!o.contains("parameters")) return true;
    if (o.contains("arguments")) return false;
    json::value params = o.at("parameters");
    o["arguments"] = std::move(params);
    return true;
  }
  if (obj.is_array()) {
    for (const json::value& e : obj.get_array()) {
      if (e.is_string() && e.get_string() == "parameters") return false;
    }
    return true;
  }
  if (obj.is_string()) return std::string_view(obj.get_string()).find("parameters") == std::string_view::npos;
  return false;
}

/// Bytes of `n` code points of `s` from `pos` (Python's slicing by characters).
size_t advance_code_points(std::string_view s, size_t pos, size_t n) {
  for (; n > 0 && pos < s.size(); --n) {
    ++pos;
    while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
  }
  return pos;
}

/// s[n:] where n counts code points.
std::string drop_code_points(std::string_view s, size_t n) { return std::string(s.substr(advance_code_points(s, 0, n))); }

/// vLLM's find_common_prefix, on characters.
std::string common_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  while (n > 0 && n < a.size() && (static_cast<unsigned char>(a[n]) & 0xC0) == 0x80) --n;  // whole characters
  return std::string(a.substr(0, n));
}

DeltaMessage args_message_delta(int index, std::string diff) {
  DeltaToolCall d;
  d.index = index;
  d.has_function = true;
  d.arguments = Field::of(std::move(diff));
  DeltaMessage m;
  m.tool_calls.push_back(std::move(d));
  return m;
}

class LlamaJsonToolParser final : public ToolParser {
 public:
  ExtractedToolCalls extract(std::string_view output) override;
  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override;
  std::string remaining_unstreamed_args() const override;
  bool supports_required_and_named() const override { return false; }  // structural tag "llama"

 private:
  std::vector<json::value> prev_tool_call_arr_;
  int current_tool_id_ = -1;
  bool current_tool_name_sent_ = false;
};

ExtractedToolCalls LlamaJsonToolParser::extract(std::string_view output) {
  const ExtractedToolCalls as_content{false, {}, std::string(output)};
  if (output.find(kBotToken) == std::string_view::npos && output.find('{') == std::string_view::npos) return as_content;
  ExtractedToolCalls r;
  std::optional<size_t> end_index;
  for (size_t start = output.find('{'); start != std::string_view::npos; start = output.find('{', start + 1)) {
    if (end_index && start <= *end_index) continue;  // inside (or right after) an object already decoded
    std::optional<RawDecoded> decoded = json_raw_decode(output, start);
    if (!decoded) return as_content;
    end_index = decoded->end;
    std::optional<json::value> name = get(decoded->value, "name");
    if (!name || !decoded->value.get_object().contains("name") || !name->is_string()) return as_content;
    const json::object& obj = decoded->value.get_object();
    const json::value* args = obj.contains("arguments") ? obj.if_contains("arguments") : obj.if_contains("parameters");
    if (args == nullptr) return as_content;
    r.calls.push_back(ExtractedCall{std::nullopt, std::string(name->get_string()), json_dumps(*args, false)});
  }
  if (r.calls.empty()) return as_content;
  r.tools_called = true;
  return r;
}

std::optional<DeltaMessage> LlamaJsonToolParser::extract_streaming(const StreamStep& step) {
  const std::string_view text = step.current_text;
  if (!(text.starts_with(kBotToken) || text.starts_with('{'))) {
    DeltaMessage m;
    m.content = Field::of(std::string(step.delta_text));
    return m;
  }
  // Any error below is vLLM's logged exception: nothing sent, no state changed.
  std::vector<json::value> calls;
  std::vector<bool> complete;
  size_t start = text.starts_with(kBotToken) ? kBotToken.size() : 0;
  while (start < text.size()) {
    std::optional<PartialJson> parsed = partial_json_loads(text.substr(start), current_tool_name_sent_);
    if (!parsed) return std::nullopt;
    complete.push_back(is_complete_json(text.substr(start, parsed->end)));
    start = advance_code_points(text, start + parsed->end, 2);  // "; "
    if (!normalize_call(parsed->value)) return std::nullopt;
    calls.push_back(std::move(parsed->value));
  }
  if (calls.empty()) return std::nullopt;
  const int count = static_cast<int>(calls.size());
  auto call_at = [&](int i) -> const json::value* {  // Python indexing, negative from the end
    if (i < 0) i += count;
    return i >= 0 && i < count ? &calls[static_cast<size_t>(i)] : nullptr;
  };
  const json::value* current = call_at(current_tool_id_);

  if (count > current_tool_id_ + 1) {  // a new call begins: first flush what the previous one still lacks
    std::optional<DeltaMessage> delta;
    if (current_tool_id_ >= 0) {
      std::optional<json::value> args = get(*current, "arguments");
      if (!args) return std::nullopt;
      if (python_truthy(*args)) {
        std::string& sent = streamed_args_[static_cast<size_t>(current_tool_id_)];
        std::string diff = drop_code_points(json_dumps(*args, false), jinja::utf8_length(sent));
        sent += diff;
        delta = args_message_delta(current_tool_id_, std::move(diff));
      }
    }
    current_tool_id_ = count - 1;
    current_tool_name_sent_ = false;
    streamed_args_.emplace_back();
    return delta;
  }
  if (current == nullptr) return std::nullopt;
  std::optional<DeltaMessage> delta;
  if (!current_tool_name_sent_) {
    std::optional<json::value> name = get(*current, "name");
    if (!name) return std::nullopt;
    if (python_truthy(*name)) {
      if (!name->is_string()) return std::nullopt;  // pydantic refuses a non-string name
      DeltaToolCall d;
      d.index = current_tool_id_;
      d.type = Field::of("function");
      d.id = Field::of(make_tool_call_id());
      d.has_function = true;
      d.name = Field::of(std::string(name->get_string()));
      delta = DeltaMessage{};
      delta->tool_calls.push_back(std::move(d));
      current_tool_name_sent_ = true;
    }
  } else {
    std::optional<json::value> args = get(*current, "arguments");
    if (!args) return std::nullopt;
    if (python_truthy(*args)) {
      const size_t index = static_cast<size_t>(current_tool_id_);
      if (index >= prev_tool_call_arr_.size()) return std::nullopt;
      std::optional<json::value> prev_args = get(prev_tool_call_arr_[index], "arguments");
      if (!prev_args) return std::nullopt;
      const std::string cur_json = json_dumps(*args, false);
      const size_t sent = jinja::utf8_length(streamed_args_[index]);
      std::optional<std::string> diff;
      if (complete[index]) {
        diff = drop_code_points(cur_json, sent);
      } else if (python_truthy(*prev_args)) {
        const std::string prev_json = json_dumps(*prev_args, false);
        if (cur_json != prev_json) diff = drop_code_points(common_prefix(prev_json, cur_json), sent);
      }
      if (diff) {
        streamed_args_[index] += *diff;
        delta = args_message_delta(current_tool_id_, std::move(*diff));
      }
    }
  }
  prev_tool_call_arr_ = std::move(calls);
  return delta;
}

std::string LlamaJsonToolParser::remaining_unstreamed_args() const {
  if (prev_tool_call_arr_.empty()) return {};
  const size_t index = prev_tool_call_arr_.size() - 1;
  std::optional<json::value> args = get(prev_tool_call_arr_[index], "arguments");
  if (!args) return {};
  std::string expected;
  if (args->is_null() && !prev_tool_call_arr_[index].get_object().contains("arguments")) {
    expected = "{}";
  } else if (args->is_string()) {
    expected = std::string(args->get_string());
  } else {
    expected = json_dumps(*args, false);
  }
  const std::string actual = index < streamed_args_.size() ? streamed_args_[index] : std::string();
  if (expected.compare(0, actual.size(), actual) == 0) return expected.substr(actual.size());
  return {};
}

}  // namespace

std::unique_ptr<ToolParser> make_llama_json_tool_parser(const ToolParserContext&) {
  return std::make_unique<LlamaJsonToolParser>();
}

}  // namespace podserve::openai
