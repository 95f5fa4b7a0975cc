// Filters (jinja2 3.1 semantics; `tojson` is transformers' json.dumps version). Sequence filters that
// return generators in jinja2 (map, select, reject, selectattr, rejectattr, reverse, unique) return
// iterator values here, so `if xs|select(...)` is always true and `|length` needs `|list` first, as there.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/json_value.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

using Args = CallArgs;

Status no_args(const Args& a, std::string_view fn) { return BoundArgs::bind(a, fn, {}).status(); }

Result<Value> f_length(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "length"));
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value(0);
    case Value::Kind::kString: return Value(utf8_length(v.as_string()));
    case Value::Kind::kArray:
      if (v.array_kind() != ArrayKind::kIterator) return Value(static_cast<int64_t>(v.as_array().size()));
      break;
    case Value::Kind::kObject:
      if (v.is_dict()) return Value(static_cast<int64_t>(v.as_object().entries.size()));
      break;
    default: break;
  }
  return invalid_argument("object of type '" + type_name(v) + "' has no len()");
}

Result<Value> f_default(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "default", {"default_value", "boolean"}));
  const bool boolean = b.has(1) && truthy(b.get(1));
  if (v.is_undefined() || (boolean && !truthy(v))) return b.get_or(0, Value(""));
  return v;
}

Result<Value> f_tojson(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonFormat f;
  f.ensure_ascii = b.has(0) && truthy(b.get(0));
  f.sort_keys = b.has(3) && truthy(b.get(3));
  if (b.has(1) && !b.get(1).is_none()) {
    const Value& ind = b.get(1);
    if (ind.is_string()) {
      f.indent = ind.as_string();
    } else {
      PODSERVE_ASSIGN_OR_RETURN(int64_t n, int_arg(ind, "indent"));
      f.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 64)), ' ');
    }
    f.item_separator = ",";
  }
  if (b.has(2) && !b.get(2).is_none()) {
    const Value& sep = b.get(2);
    if (!sep.is_array() || sep.as_array().size() != 2 || !sep.as_array()[0].is_string() || !sep.as_array()[1].is_string()) {
      return invalid_argument("tojson separators must be a pair of strings");
    }
    f.item_separator = sep.as_array()[0].as_string();
    f.key_separator = sep.as_array()[1].as_string();
  }
  PODSERVE_ASSIGN_OR_RETURN(std::string s, to_json(v, f));
  return Value(std::move(s));
}

Result<Value> f_join(Evaluator& ev, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "join", {"d", "attribute"}));
  const std::string sep = b.has(0) ? to_str(b.get(0)) : "";
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (b.has(1) && !b.get(1).is_none()) {
      PODSERVE_ASSIGN_OR_RETURN(item, get_attr_path(item, to_str(b.get(1))));
    }
    if (i > 0) out += sep;
    out += to_str(item);
    PODSERVE_RETURN_IF_ERROR(ev.check_string_size(out.size()));
  }
  return Value(std::move(out));
}

Result<Value> f_string_op(const Value& v, const Args& a, std::string_view name) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, name));
  const std::string s = to_str(v);
  if (name == "upper") return Value(py_upper(s));
  if (name == "lower") return Value(py_lower(s));
  if (name == "title") return Value(jinja_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  return Value(s);  // string, safe
}
Result<Value> f_upper(Evaluator&, const Value& v, const Args& a) { return f_string_op(v, a, "upper"); }
Result<Value> f_lower(Evaluator&, const Value& v, const Args& a) { return f_string_op(v, a, "lower"); }
Result<Value> f_title(Evaluator&, const Value& v, const Args& a) { return f_string_op(v, a, "title"); }
Result<Value> f_capitalize(Evaluator&, const Value& v, const Args& a) { return f_string_op(v, a, "capitalize"); }
Result<Value> f_string(Evaluator&, const Value& v, const Args& a) { return f_string_op(v, a, "string"); }
Result<Value> f_safe(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "safe"));
  return v;
}

Result<Value> f_trim(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "trim", {"chars"}));
  std::optional<std::string> chars;
  if (b.has(0) && !b.get(0).is_none()) chars = to_str(b.get(0));
  return Value(py_strip(to_str(v), chars, true, true));
}

Result<Value> f_replace(Evaluator& ev, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "replace", {"old", "new", "count"}, 2));
  int64_t count = -1;
  if (b.has(2) && !b.get(2).is_none()) {
    PODSERVE_ASSIGN_OR_RETURN(count, int_arg(b.get(2), "count"));
  }
  const std::string s = to_str(v), old_s = to_str(b.get(0)), new_s = to_str(b.get(1));
  // Bound the result before building it: every match may grow the string.
  const size_t matches = old_s.empty() ? s.size() + 1 : s.size() / old_s.size();
  if (new_s.size() > old_s.size()) PODSERVE_RETURN_IF_ERROR(ev.check_string_size(s.size() + matches * new_s.size()));
  return Value(py_replace(s, old_s, new_s, count));
}

Result<Value> f_indent(Evaluator& ev, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "indent", {"width", "first", "blank"}));
  std::string indention = "    ";
  if (b.has(0)) {
    if (b.get(0).is_string()) {
      indention = b.get(0).as_string();
    } else {
      PODSERVE_ASSIGN_OR_RETURN(int64_t w, int_arg(b.get(0), "width"));
      indention = std::string(static_cast<size_t>(std::clamp<int64_t>(w, 0, 256)), ' ');
    }
  }
  const bool first = b.has(1) && truthy(b.get(1)), blank = b.has(2) && truthy(b.get(2));
  const std::vector<std::string> lines = py_splitlines(to_str(v) + "\n");
  PODSERVE_RETURN_IF_ERROR(ev.check_string_size(to_str(v).size() + lines.size() * (indention.size() + 1)));
  std::string rv;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) rv += "\n";
    if (i > 0 && (blank || !lines[i].empty())) rv += indention;
    rv += lines[i];
  }
  if (first) rv = indention + rv;
  return Value(std::move(rv));
}

Result<Value> f_first(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "first"));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> f_last(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "last"));
  if (v.is_array() && v.array_kind() == ArrayKind::kIterator) return invalid_argument("'generator' object is not reversible");
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> f_list(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "list"));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  return Value::array(std::move(items));
}

Result<Value> f_items(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "items"));
  if (v.is_undefined()) return Value::array({}, ArrayKind::kIterator);
  if (!v.is_dict()) return invalid_argument("Can only get item pairs from a mapping.");
  Array out;
  for (const auto& [k, item] : v.as_object().entries) out.push_back(Value::array({dict_key_value(k), item}, ArrayKind::kTuple));
  return Value::array(std::move(out), ArrayKind::kIterator);
}

// int(): like Python's int() with jinja2's fallback through float and to `default`.
std::optional<int64_t> parse_int(std::string s) {
  s = py_strip(s, std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(s.c_str(), &end, 10);
  if (*end == '\0' && errno == 0) return n;
  const double d = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(d) || std::fabs(d) >= 9.2e18) return std::nullopt;
  return static_cast<int64_t>(d);
}

Result<Value> f_int(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "int", {"default", "base"}));
  const Value fallback = b.get_or(0, Value(0));
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) >= 9.2e18) return fallback;
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    if (auto n = parse_int(v.as_string())) return Value(*n);
  }
  return fallback;
}

Result<Value> f_float(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "float", {"default"}));
  if (v.is_number() || v.is_bool()) return Value(v.to_double());
  if (v.is_string()) {
    const std::string s = py_strip(v.as_string(), std::nullopt, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return Value(d);
  }
  return b.get_or(0, Value(0.0));
}

Result<Value> f_abs(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(no_args(a, "abs"));
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    const int64_t n = v.is_bool() ? v.as_bool() : v.as_int();
    if (n == INT64_MIN) return invalid_argument("integer overflow");
    return Value(n < 0 ? -n : n);
  }
  return invalid_argument("bad operand type for abs(): '" + type_name(v) + "'");
}

}  // namespace

// Sequence filters live in filters_seq.cpp.
Result<Value> filter_map(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_select(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_reject(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_selectattr(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_rejectattr(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_reverse(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_unique(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_sort(Evaluator&, const Value&, const CallArgs&);
Result<Value> filter_sum(Evaluator&, const Value&, const CallArgs&);
FilterFn find_more_filter(std::string_view name);  // filters_more.cpp

FilterFn find_filter(std::string_view name) {
  static constexpr std::pair<std::string_view, FilterFn> kFilters[] = {
      {"abs", f_abs},           {"capitalize", f_capitalize}, {"count", f_length},   {"d", f_default},
      {"default", f_default},   {"first", f_first},           {"float", f_float},    {"indent", f_indent},
      {"int", f_int},           {"items", f_items},           {"join", f_join},      {"last", f_last},
      {"length", f_length},     {"list", f_list},             {"lower", f_lower},    {"map", filter_map},
      {"reject", filter_reject}, {"rejectattr", filter_rejectattr}, {"replace", f_replace},
      {"reverse", filter_reverse}, {"safe", f_safe},          {"select", filter_select},
      {"selectattr", filter_selectattr}, {"sort", filter_sort}, {"string", f_string}, {"sum", filter_sum},
      {"title", f_title},       {"tojson", f_tojson},         {"trim", f_trim},      {"unique", filter_unique},
      {"upper", f_upper},
  };
  for (const auto& [n, fn] : kFilters) {
    if (n == name) return fn;
  }
  return find_more_filter(name);
}

}  // namespace podserve::jinja
