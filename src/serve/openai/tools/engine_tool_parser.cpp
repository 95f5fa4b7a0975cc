#include "serve/openai/tools/engine_tool_parser.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <boost/json/object.hpp>

#include "serve/openai/tools/ascii_space.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {

namespace json = boost::json;

std::set<std::string> schema_types(const json::value& schema) {
  std::set<std::string> types;
  if (!schema.is_object()) return {"string"};
  const json::object& o = schema.get_object();
  if (const json::value* t = o.if_contains("type")) {
    if (t->is_string()) types.insert(std::string(t->get_string()));
    if (t->is_array()) {
      for (const json::value& x : t->get_array()) {
        if (x.is_string()) types.insert(std::string(x.get_string()));
      }
    }
  }
  if (const json::value* e = o.if_contains("enum"); e && e->is_array()) {
    for (const json::value& v : e->get_array()) {
      types.insert(v.is_null() ? "null" : v.is_bool() ? "boolean" : (v.is_int64() || v.is_uint64()) ? "integer"
                   : v.is_double() ? "number" : v.is_string() ? "string" : v.is_array() ? "array" : "object");
    }
  }
  for (const char* k : {"anyOf", "oneOf", "allOf"}) {
    if (const json::value* c = o.if_contains(k); c && c->is_array()) {
      for (const json::value& x : c->get_array()) {
        std::set<std::string> sub = schema_types(x);
        types.insert(sub.begin(), sub.end());
      }
    }
  }
  if (types.empty()) types.insert("string");
  return types;
}

void scan_top_level_members(std::string_view s, const MemberVisitor& visit) {
  std::optional<std::string_view> last_string;
  bool fresh = false, in_string = false, escape = false;
  size_t string_start = 0;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (escape) {
      escape = false;
    } else if (in_string) {
      if (c == '\\') escape = true;
      if (c == '"') {
        in_string = false;
        if (depth == 1) {
          last_string = s.substr(string_start + 1, i - string_start - 1);
          fresh = true;
        }
      }
    } else if (c == '"') {
      in_string = true;
      string_start = i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ':' && depth == 1) {
      if (visit(last_string, fresh, i)) return;
      fresh = false;
    }
  }
}

namespace {


std::string normalize_type(std::string_view t) {
  std::string s = py_strip(t);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::vector<std::pair<std::string_view, std::string_view>> kAliases = {
      {"str", "string"},      {"text", "string"},     {"varchar", "string"}, {"char", "string"},    {"enum", "string"},
      {"int", "integer"},     {"int32", "integer"},   {"int64", "integer"},  {"uint", "integer"},   {"uint32", "integer"},
      {"uint64", "integer"},  {"long", "integer"},    {"short", "integer"},  {"unsigned", "integer"},
      {"float", "number"},    {"float32", "number"},  {"float64", "number"}, {"double", "number"},
      {"bool", "boolean"},    {"dict", "object"},     {"arr", "array"},      {"list", "array"},
      {"sequence", "array"}};
  for (const auto& [from, to] : kAliases) {
    if (s == from) return std::string(to);
  }
  return s;
}

/// Python's int(s) for ASCII text: sign, digits with single underscores between them, whitespace around.
std::optional<int64_t> py_int(std::string_view s) {
  const std::string t = py_strip(s);
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  if (i >= t.size()) return std::nullopt;
  std::string digits;
  bool prev_digit = false;
  for (; i < t.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(t[i]))) {
      digits += t[i];
      prev_digit = true;
    } else if (t[i] == '_' && prev_digit && i + 1 < t.size() && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
      prev_digit = false;
    } else {
      return std::nullopt;
    }
  }
  if (digits.size() > 18) return std::nullopt;  // beyond int64: left as text (Python keeps big ints)
  const int64_t v = std::stoll(digits);
  return t[0] == '-' ? -v : v;
}

/// Python's float(s) for ASCII text; nullopt where it raises.
std::optional<double> py_float(std::string_view s) {
  std::string t = py_strip(s);
  std::string lower = t;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string_view body = std::string_view(lower).substr(!lower.empty() && (lower[0] == '+' || lower[0] == '-'));
  if (body == "inf" || body == "infinity" || body == "nan") return INFINITY;  // non-finite: rejected by the caller
  std::string clean;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '_') {
      if (i == 0 || i + 1 >= t.size() || !std::isdigit(static_cast<unsigned char>(t[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return std::nullopt;
    }
    clean += c;
  }
  if (clean.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  if (clean.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  return v;
}

bool finite_json(const json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (v.is_array()) return std::all_of(v.get_array().begin(), v.get_array().end(), finite_json);
  if (v.is_object()) {
    return std::all_of(v.get_object().begin(), v.get_object().end(), [](const auto& kv) { return finite_json(kv.value()); });
  }
  return true;
}

/// coerce_to_schema_type(value, types); nullopt where it returns the string itself.
std::optional<json::value> coerce(const std::string& value, const std::set<std::string>& raw_types) {
  std::set<std::string> types;
  for (const std::string& t : raw_types) types.insert(normalize_type(t));
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* candidate : {"null", "integer", "number", "boolean", "object", "array", "string"}) {
    if (!types.contains(candidate)) continue;
    const std::string_view c = candidate;
    if (c == "null") {
      if (lower == "null") return json::value(nullptr);
    } else if (c == "string") {
      return std::nullopt;
    } else if (c == "integer") {
      if (std::optional<int64_t> v = py_int(value)) return json::value(*v);
    } else if (c == "number") {
      std::optional<double> v = py_float(value);
      if (v && std::isfinite(*v)) {
        if (*v == std::trunc(*v) && std::fabs(*v) < 9.2e18) return json::value(static_cast<int64_t>(*v));
        return json::value(*v);
      }
    } else if (c == "boolean") {
      const std::string b = py_strip(lower);
      if (b == "true" || b == "1") return json::value(true);
      if (b == "false" || b == "0") return json::value(false);
    } else {  // object, array: any JSON
      std::optional<json::value> parsed = json_loads(value);
      if (parsed && finite_json(*parsed)) return parsed;
    }
  }
  std::optional<json::value> parsed = json_loads(value);
  if (parsed && finite_json(*parsed)) return parsed;
  return std::nullopt;
}

bool coerce_object(json::object& args, const json::object& properties);

/// vLLM's ParserEngine._coerce_value, in place: strings by the schema's types, objects and arrays through their
/// properties / items, other values by their JSON text (so 42 for a string property becomes "42").
bool coerce_value(json::value& value, const json::object& schema) {
  if (value.is_string()) {
    std::optional<json::value> v = coerce(std::string(value.get_string()), schema_types(schema));
    if (!v) return false;
    value = std::move(*v);
    return true;
  }
  if (value.is_object()) {
    const json::value* nested = schema.if_contains("properties");
    return nested != nullptr && nested->is_object() && coerce_object(value.get_object(), nested->get_object());
  }
  if (value.is_array()) {
    const json::value* items = schema.if_contains("items");
    if (items == nullptr || !items->is_object()) return false;
    bool changed = false;
    for (json::value& item : value.get_array()) changed = coerce_value(item, items->get_object()) || changed;
    return changed;
  }
  const std::string text = json_dumps(value, false);
  std::optional<json::value> v = coerce(text, schema_types(schema));
  if (!v) {
    value = json::string(text);
    return true;
  }
  auto kind = [](const json::value& x) { return x.is_uint64() ? json::kind::int64 : x.kind(); };
  if (kind(*v) == kind(value) && *v == value) return false;
  value = std::move(*v);
  return true;
}

bool coerce_object(json::object& args, const json::object& properties) {
  bool changed = false;
  for (auto& kv : args) {
    const json::value* prop = properties.if_contains(kv.key());
    if (prop != nullptr && prop->is_object()) changed = coerce_value(kv.value(), prop->get_object()) || changed;
  }
  return changed;
}

/// "name": "..." in a call body (vLLM's _NAME_RE), for a call whose name came in its arguments.
std::optional<std::string> name_in(std::string_view args) {
  for (size_t p = args.find("\"name\""); p != std::string_view::npos; p = args.find("\"name\"", p + 1)) {
    size_t q = skip_ascii_space(args, p + 6);
    if (q >= args.size() || args[q] != ':') continue;
    q = skip_ascii_space(args, q + 1);
    if (q >= args.size() || args[q] != '"') continue;
    const size_t e = args.find('"', q + 1);
    if (e == std::string_view::npos) continue;
    if (e > q + 1) return std::string(args.substr(q + 1, e - q - 1));
    return std::nullopt;
  }
  return std::nullopt;
}

/// vLLM's ParserEngine._extract_name_and_args: a JSON object's "name" and its "arguments" / "parameters" (or
/// the rest of the object).
std::pair<std::string, std::string> name_and_args(std::string_view raw_body) {
  const std::string raw = py_strip(raw_body);
  std::optional<json::value> parsed = json_loads(raw);
  if (!parsed || !parsed->is_object()) return {"", raw};
  json::object& o = parsed->get_object();
  const json::value* n = o.if_contains("name");
  std::string name = n && n->is_string() ? std::string(n->get_string()) : std::string();
  for (const char* key : {"arguments", "parameters"}) {
    if (const json::value* v = o.if_contains(key)) {
      return {name, v->is_string() ? std::string(v->get_string()) : json_dumps(*v, false)};
    }
  }
  o.erase("name");
  return {name, json_dumps(*parsed, false)};
}

/// vLLM's ParserEngine._safe_arg_prefix: the JSON up to its last top-level value, that value's unterminated
/// string included when its key may stream (`string_keys` null: every key).
std::string safe_arg_prefix(const std::string& s, const std::optional<std::set<std::string>>& string_keys) {
  long last_colon = -1;
  std::optional<std::string> last_key;
  scan_top_level_members(s, [&](std::optional<std::string_view> key, bool fresh, size_t colon) {
    last_colon = static_cast<long>(colon);
    last_key = fresh && key ? std::optional<std::string>(*key) : std::nullopt;
    return false;
  });
  if (last_colon < 0) return {};
  size_t end = static_cast<size_t>(last_colon) + 1;
  while (end < s.size() && (s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\r')) ++end;
  if (end >= s.size() || s[end] != '"') return s.substr(0, end);
  if (string_keys && (!last_key || !string_keys->contains(*last_key))) return s.substr(0, end);
  bool escape = false;
  for (size_t i = end + 1; i < s.size(); ++i) {
    if (escape) {
      escape = false;
      continue;
    }
    if (s[i] == '\\') {
      escape = true;
      continue;
    }
    if (s[i] == '"') return s.substr(0, i);
  }
  return s;
}

DeltaToolCall args_delta(int idx, std::string args) {
  DeltaToolCall d;
  d.index = idx;
  d.has_function = true;
  d.arguments = Field::of(std::move(args));
  return d;
}

std::vector<DeltaToolCall> coalesce(std::vector<DeltaToolCall> deltas) {
  std::vector<DeltaToolCall> merged;
  for (DeltaToolCall& d : deltas) {
    auto it = std::find_if(merged.begin(), merged.end(), [&](const DeltaToolCall& m) { return m.index == d.index; });
    if (it == merged.end()) {
      merged.push_back(std::move(d));
      continue;
    }
    if (d.id.set && !it->id.set) it->id = d.id;
    if (d.type.set && !it->type.set) it->type = d.type;
    if (d.has_function) {
      if (!it->has_function) {
        it->has_function = true;
        it->name = d.name;
        it->arguments = d.arguments;
      } else {
        if (d.name.set && !it->name.set) it->name = d.name;
        if (d.arguments.has_value()) {
          it->arguments = Field::of(it->arguments.value.value_or("") + *d.arguments.value);
        }
      }
    }
  }
  return merged;
}

}  // namespace

bool HeldArgsText::add(std::string_view ch) {
  buffer += ch;
  if (escape) {
    escape = false;
  } else if (in_string) {
    if (ch == "\\") escape = true;
    if (ch == "\"") in_string = false;
  } else if (ch == "\"") {
    in_string = true;
  } else if (ch == "{" || ch == "[") {
    ++depth;
  } else if (ch == "}" || ch == "]") {
    if (depth > 0) --depth;
    return depth != 0;
  }
  return true;
}

std::pair<std::string, std::string> EngineToolParser::body_name_and_args(std::string_view raw) const {
  return name_and_args(raw);
}

std::optional<std::string> EngineToolParser::name_from_args(std::string_view args) const { return name_in(args); }

EngineToolParser::EngineToolParser(const ToolParserContext& ctx) {
  if (ctx.tools != nullptr) tools_ = *ctx.tools;
}

void EngineToolParser::reset() {
  reset_front();
  slots_.clear();
  deferred_.clear();
  deferred_reasoning_.clear();
  content_has_nonws_ = false;
}

ExtractedToolCalls EngineToolParser::extract(std::string_view output) {
  reset();
  std::vector<Event> events;
  feed_front(output, {}, events);
  finish_front(events);
  std::optional<DeltaMessage> d = events_to_delta(events, true);
  ExtractedToolCalls out;
  for (Slot& s : slots_) {
    if (s.name.empty() && s.args.empty()) continue;
    std::string name = py_strip(s.name);
    std::string args;
    if (name.empty() && !py_is_blank(s.args)) {
      std::tie(name, args) = body_name_and_args(s.args);
    } else if (py_is_blank(s.args)) {
      args = "{}";
    } else {
      std::optional<std::string> converted = convert_args(s.args, false);
      args = converted ? std::move(*converted) : name_and_args(s.args).second;
    }
    if (!accept_name(name)) continue;
    out.calls.push_back(ExtractedCall{new_call_id(), name, fix_arg_types(args, name)});
  }
  out.tools_called = !out.calls.empty();
  std::string content = d && d->content.has_value() ? *d->content.value : std::string();
  if (out.tools_called) content = py_strip(content);
  if (!content.empty()) out.content = std::move(content);
  return out;
}

std::optional<DeltaMessage> EngineToolParser::extract_streaming(const StreamStep& step) {
  if (!streaming_) {
    streaming_ = true;
    reset();
  }
  std::vector<Event> events;
  feed_front(step.delta_text, step.delta_ids, events);
  return strip_trailing_reasoning(events_to_delta(events, false));
}

/// ParserEngine._strip_trailing_reasoning: a streamed reasoning delta's trailing whitespace waits for more.
std::optional<DeltaMessage> EngineToolParser::strip_trailing_reasoning(std::optional<DeltaMessage> m) {
  if (!m || !m->reasoning.has_value()) return m;
  const std::string combined = deferred_reasoning_ + *m->reasoning.value;
  std::string trimmed = py_rstrip(combined);
  deferred_reasoning_ = combined.substr(trimmed.size());
  if (!trimmed.empty()) {
    m->reasoning = Field::of(std::move(trimmed));
    return m;
  }
  m->reasoning = Field{};
  if (!m->content.has_value() && m->tool_calls.empty()) return std::nullopt;
  return m;
}

std::optional<DeltaMessage> EngineToolParser::finish_streaming() {
  std::vector<Event> events;
  finish_front(events);
  if (events.empty() && deferred_.empty()) return std::nullopt;
  return events_to_delta(events, true);
}

const json::value* EngineToolParser::properties_of(std::string_view name) const {
  for (const ToolSpec& t : tools_) {
    if (t.name != name) continue;
    if (!t.parameters.is_object()) return nullptr;
    return t.parameters.get_object().if_contains("properties");
  }
  return nullptr;
}

std::optional<std::set<std::string>> EngineToolParser::streamable_string_keys(std::string_view name) const {
  const json::value* props = properties_of(name);
  if (props == nullptr || !props->is_object() || props->get_object().empty()) return std::nullopt;
  std::set<std::string> keys;
  for (const auto& kv : props->get_object()) {
    if (schema_types(kv.value()) == std::set<std::string>{"string"}) keys.emplace(kv.key());
  }
  return keys;
}

std::string EngineToolParser::fix_arg_types(const std::string& args_json, std::string_view name) const {
  if (tools_.empty() || name.empty()) return args_json;
  std::optional<json::value> args = json_loads(args_json);
  if (!args || !args->is_object()) return args_json;
  const json::value* props = properties_of(name);
  if (props == nullptr || !props->is_object() || props->get_object().empty()) return args_json;
  return coerce_object(args->get_object(), props->get_object()) ? json_dumps(*args, false) : args_json;
}

void EngineToolParser::announce(int idx, const std::string& name, std::vector<DeltaToolCall>& deltas, std::optional<std::string> args) {
  Slot& s = slots_[idx];
  s.name = name;
  s.name_sent = true;
  s.string_keys = streamable_string_keys(name);
  DeltaToolCall d;
  d.index = idx;
  d.id = Field::of(new_call_id());
  d.type = Field::of("function");
  d.has_function = true;
  d.name = Field::of(name);
  if (args) d.arguments = Field::of(std::move(*args));
  deltas.push_back(std::move(d));
}

std::optional<std::string> EngineToolParser::arg_delta(Slot& s, std::string_view raw_delta) {
  if (streams_raw_args()) return std::string(raw_delta);
  std::optional<std::string> converted = convert_args(s.args, true);
  if (!converted || converted->empty()) return std::nullopt;
  std::string current = std::move(*converted);
  if (!s.name.empty()) current = fix_arg_types(current, s.name);
  const std::string safe = safe_arg_prefix(current, s.string_keys);
  if (safe.empty() || safe == s.streamed_json) return std::nullopt;
  if (!s.streamed_json.empty() && !safe.starts_with(s.streamed_json)) return std::nullopt;
  std::string diff = safe.substr(s.streamed_json.size());
  if (diff.empty()) return std::nullopt;
  s.streamed_json = safe;
  return diff;
}

std::optional<std::string> EngineToolParser::flush_args(Slot& s) {
  if (streams_raw_args()) return std::nullopt;
  std::optional<std::string> converted = convert_args(s.args, false);
  if (!converted) return std::nullopt;
  std::string final_json = std::move(*converted);
  if (!final_json.empty()) final_json = fix_arg_types(final_json, s.name);
  if (final_json.size() <= s.streamed_json.size()) return std::nullopt;
  if (!s.streamed_json.empty() && !final_json.starts_with(s.streamed_json)) return std::nullopt;
  std::string diff = final_json.substr(s.streamed_json.size());
  s.streamed_json = final_json;
  return diff;
}

void EngineToolParser::on_arg(const Event& e, std::vector<DeltaToolCall>& deltas) {
  Slot& s = slots_[e.index];
  s.args += e.value;
  if (!s.name_sent) {
    if (!s.name.empty()) {
      if (accept_name(s.name)) announce(e.index, s.name, deltas, std::nullopt);
    } else if (!e.value.empty()) {
      std::optional<std::string> n = name_from_args(s.args);
      if (n && accept_name(*n)) announce(e.index, *n, deltas, std::nullopt);
    }
    if (echo_first_args() && !e.value.empty() && slots_[e.index].name_sent) {
      deltas.push_back(args_delta(e.index, e.value));
    }
  } else if (!e.value.empty()) {
    if (std::optional<std::string> d = arg_delta(s, e.value)) deltas.push_back(args_delta(e.index, std::move(*d)));
  }
}

void EngineToolParser::on_call_end(const Event& e, std::vector<DeltaToolCall>& deltas) {
  if (e.index >= static_cast<int>(slots_.size())) return;
  std::optional<std::string> remaining = flush_args(slots_[e.index]);
  Slot& s = slots_[e.index];
  if (!s.name_sent) {
    std::string name = !s.name.empty() ? s.name : name_from_args(s.args).value_or("");
    if (accept_name(name)) {
      announce(e.index, name, deltas, remaining.value_or(""));
      remaining.reset();
    }
  }
  if (remaining && !remaining->empty() && slots_[e.index].name_sent) {
    deltas.push_back(args_delta(e.index, std::move(*remaining)));
  }
}


std::optional<DeltaMessage> EngineToolParser::events_to_delta(const std::vector<Event>& events, bool finished) {
  if (events.empty() && deferred_.empty()) return std::nullopt;
  std::vector<DeltaToolCall> deltas;
  std::string content;
  std::string reasoning;
  const std::string carried = deferred_;
  bool seen_tool = false;
  for (const Event& e : events) {
    if (e.type == Ev::kText) {
      (seen_tool ? deferred_ : content) += e.value;
      continue;
    }
    if (e.type == Ev::kReasoning) {
      reasoning += e.value;
      continue;
    }
    if (suppress_) continue;
    seen_tool = true;
    if (e.type == Ev::kCallStart) {
      if (static_cast<int>(slots_.size()) <= e.index) slots_.resize(e.index + 1);
    } else if (e.type == Ev::kName) {
      slots_[e.index].name += e.value;
    } else if (e.type == Ev::kArg) {
      on_arg(e, deltas);
    } else {
      on_call_end(e, deltas);
    }
  }
  if (deltas.size() > 1) deltas = coalesce(std::move(deltas));
  if (!deferred_.empty() && (!seen_tool || deltas.empty())) {
    content = carried + content + deferred_.substr(carried.size());
    deferred_.clear();
  }
  if (!content_has_nonws_ && !content.empty()) {
    if (!py_is_blank(content)) {
      content_has_nonws_ = true;
    } else if (!slots_.empty()) {
      content.clear();
    } else if (!finished) {
      deferred_ = content;
      content.clear();
    }
  }
  if (content.empty() && deltas.empty() && reasoning.empty()) return std::nullopt;
  DeltaMessage m;
  if (!content.empty()) m.content = Field::of(std::move(content));
  if (!reasoning.empty()) m.reasoning = Field::of(std::move(reasoning));
  m.tool_calls = std::move(deltas);
  return m;
}

}  // namespace podserve::openai
