// tool_choice "required" on parsers without a model-native call format (vLLM's Path A): the constraint makes
// the model write `[{"name": ..., "parameters": {...}}, ...]`. Whole outputs are validated as pydantic's
// list[FunctionDefinition]; streams are scanned for each element's name and the span of its `parameters`
// (vllm/tool_parsers/streaming.py): prefix-stable spans, so one scan tells what an earlier text had shown.
#include "serve/openai/output_parser.h"
#include "serve/openai/tools/ascii_space.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

bool optional_of(const boost::json::object& o, std::string_view key, bool (*ok)(const boost::json::value&)) {
  const boost::json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() || ok(*v);
}

struct Span {
  std::optional<std::string> name;
  std::optional<size_t> name_end, args_start, args_end;
  bool ready() const { return name && args_start; }
  bool ready_at(size_t length) const { return name && name_end && *name_end <= length && args_start && *args_start < length; }
};

enum Expect { kKey, kColon, kValue, kInString, kInContainer, kInScalar, kAfterValue };


std::vector<Span> scan_required(std::string_view text) {
  std::vector<Span> spans;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  size_t string_start = 0;
  Span* cur = nullptr;
  Expect expect = kKey;
  std::string key;
  bool has_key = false;
  size_t value_start = 0;
  auto end_value = [&](size_t pos) {
    if (has_key && key == "parameters") {
      cur->args_end = pos;
    } else if (has_key && key == "name" && expect == kInString) {
      std::optional<boost::json::value> v = json_loads(text.substr(value_start, pos - value_start));
      if (v && v->is_string()) {
        cur->name = std::string(v->get_string());
        cur->name_end = pos;
      } else {
        cur->name.reset();
      }
    }
    expect = kAfterValue;
  };
  auto start_value = [&](size_t pos, Expect state) {
    value_start = pos;
    if (has_key && key == "parameters") cur->args_start = pos;
    expect = state;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
        if (depth == 2 && cur != nullptr) {
          if (expect == kKey) {
            key = std::string(text.substr(string_start + 1, i - string_start - 1));
            has_key = true;
            expect = kColon;
          } else if (expect == kInString) {
            end_value(i + 1);
          }
        }
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
      string_start = i;
      if (depth == 2 && cur != nullptr && expect == kValue) start_value(i, kInString);
      continue;
    }
    if (ch == '{' || ch == '[') {
      if (depth == 0) {
        if (ch != '[') return spans;
      } else if (depth == 1) {
        if (ch != '{') return spans;
        spans.emplace_back();
        cur = &spans.back();
        expect = kKey;
        has_key = false;
      } else if (depth == 2 && cur != nullptr && expect == kValue) {
        start_value(i, kInContainer);
      }
      ++depth;
      continue;
    }
    if (ch == '}' || ch == ']') {
      if (depth == 2 && cur != nullptr && expect == kInScalar) end_value(i);
      --depth;
      if (depth == 2 && cur != nullptr && expect == kInContainer) {
        end_value(i + 1);
      } else if (depth == 1) {
        cur = nullptr;
      } else if (depth <= 0) {
        return spans;
      }
      continue;
    }
    if (depth != 2 || cur == nullptr) continue;
    if (ch == ':') {
      if (expect == kColon) expect = kValue;
    } else if (ch == ',') {
      if (expect == kInScalar) end_value(i);
      expect = kKey;
      has_key = false;
    } else if (is_ascii_space(ch)) {
      if (expect == kInScalar) end_value(i);
    } else if (expect == kValue) {
      start_value(i, kInScalar);
    }
  }
  return spans;
}

}  // namespace

std::optional<std::vector<ExtractedCall>> parse_required_calls(std::string_view content) {
  std::optional<boost::json::value> v = json_loads(content);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<ExtractedCall> calls;
  for (const boost::json::value& item : v->get_array()) {
    const boost::json::object* o = item.if_object();
    if (o == nullptr) return std::nullopt;
    const boost::json::value* name = o->if_contains("name");
    if (name == nullptr || !name->is_string()) return std::nullopt;
    if (!optional_of(*o, "description", [](const boost::json::value& x) { return x.is_string(); }) ||
        !optional_of(*o, "parameters", [](const boost::json::value& x) { return x.is_object(); }) ||
        !optional_of(*o, "strict", [](const boost::json::value& x) { return x.is_bool(); }) ||
        !optional_of(*o, "defer_loading", [](const boost::json::value& x) { return x.is_bool(); })) {
      return std::nullopt;
    }
    const boost::json::value* params = o->if_contains("parameters");
    calls.push_back(ExtractedCall{std::nullopt, std::string(name->get_string()),
                                  params == nullptr ? "null" : json_dumps(*params, false)});
  }
  return calls;
}

std::optional<DeltaMessage> required_calls_delta(std::string_view previous_text, std::string_view current_text,
                                                 bool* any_announced) {
  *any_announced = false;
  if (current_text.empty()) return std::nullopt;
  std::vector<Span> spans = scan_required(current_text);
  const size_t sent = previous_text.size();
  DeltaMessage m;
  for (size_t index = 0; index < spans.size(); ++index) {
    const Span& s = spans[index];
    if (!s.ready()) break;
    const size_t end = s.args_end.value_or(current_text.size());
    DeltaToolCall d;
    d.index = static_cast<int>(index);
    d.has_function = true;
    if (s.ready_at(sent)) {
      const size_t from = std::min(end, sent);
      if (end <= from) continue;
      d.name = Field::null();
      d.arguments = Field::of(std::string(current_text.substr(from, end - from)));
    } else {
      d.id = Field::of(make_tool_call_id());
      d.type = Field::of("function");
      d.name = Field::of(*s.name);
      d.arguments = Field::of(std::string(current_text.substr(*s.args_start, end - *s.args_start)));
    }
    m.tool_calls.push_back(std::move(d));
  }
  for (const Span& s : spans) *any_announced = *any_announced || s.ready();
  if (m.tool_calls.empty()) return std::nullopt;
  return m;
}

}  // namespace podserve::openai
