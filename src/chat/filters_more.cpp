// Less common jinja2 filters found in chat templates: dictsort, min, max, round, center, batch, escape,
// pprint.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

// jinja2's ignore_case: strings compare lower-cased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return v.is_string() && !case_sensitive ? Value(py_lower(v.as_string())) : v;
}

Result<Value> min_or_max(const Value& v, const CallArgs& a, bool want_max, std::string_view name) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, name, {"case_sensitive", "attribute"}));
  const bool case_sensitive = b.has(0) && truthy(b.get(0));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = items[i];
    if (b.has(1) && !b.get(1).is_none()) {
      PODSERVE_ASSIGN_OR_RETURN(key, get_attr_path(key, to_str(b.get(1))));
    }
    key = sort_key(key, case_sensitive);
    if (i == 0) {
      best_key = key;
      continue;
    }
    PODSERVE_ASSIGN_OR_RETURN(int c, compare(key, best_key));
    if (want_max ? c > 0 : c < 0) {  // the first of equal items wins, as Python's min/max
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Result<Value> f_min(Evaluator&, const Value& v, const CallArgs& a) { return min_or_max(v, a, false, "min"); }
Result<Value> f_max(Evaluator&, const Value& v, const CallArgs& a) { return min_or_max(v, a, true, "max"); }

Result<Value> f_dictsort(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "dictsort", {"case_sensitive", "by", "reverse"}));
  if (!v.is_dict()) return invalid_argument("dictsort: can only sort a dict, not '" + type_name(v) + "'");
  const bool case_sensitive = b.has(0) && truthy(b.get(0));
  const std::string by = b.has(1) ? to_str(b.get(1)) : "key";
  if (by != "key" && by != "value") return invalid_argument("You can only sort by either 'key' or 'value'");
  const bool reverse = b.has(2) && truthy(b.get(2));
  std::vector<std::pair<Value, Value>> entries;
  for (const auto& [key, value] : v.as_object().entries) entries.emplace_back(dict_key_value(key), value);
  Status failure;
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    if (!failure.ok()) return false;
    const Value& kx = by == "key" ? x.first : x.second;
    const Value& ky = by == "key" ? y.first : y.second;
    auto c = compare(sort_key(reverse ? ky : kx, case_sensitive), sort_key(reverse ? kx : ky, case_sensitive));
    if (!c.ok()) {
      failure = c.status();
      return false;
    }
    return *c < 0;
  });
  PODSERVE_RETURN_IF_ERROR(failure);
  Array out;
  for (auto& [key, value] : entries) out.push_back(Value::array({key, value}, ArrayKind::kTuple));
  return Value::array(std::move(out));
}

Result<Value> f_round(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "round", {"precision", "method"}));
  int64_t precision = 0;
  if (b.has(0)) {
    PODSERVE_ASSIGN_OR_RETURN(precision, int_arg(b.get(0), "round() precision"));
  }
  const std::string method = b.has(1) ? to_str(b.get(1)) : "common";
  if (method != "common" && method != "floor" && method != "ceil") {
    return invalid_argument("method must be 'common', 'ceil' or 'floor'");
  }
  if (!v.is_number() && !v.is_bool()) return invalid_argument("round: '" + type_name(v) + "' is not a number");
  if (method == "common" && !v.is_float()) return v.is_bool() ? Value(int64_t{v.as_bool()}) : v;  // round(int) is int
  const double x = v.is_float() ? v.as_float() : static_cast<double>(v.is_bool() ? v.as_bool() : v.as_int());
  if (precision < -308 || precision > 308) return Value(x);
  if (method != "common") {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value((method == "floor" ? std::floor(x * scale) : std::ceil(x * scale)) / scale);
  }
  if (!std::isfinite(x)) return Value(x);
  if (precision < 0) {
    const double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value(std::nearbyint(x / scale) * scale);
  }
  // Python's round(x, n): the exact binary value rounded half-to-even at n decimals, which is what a
  // correctly rounding printf does.
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(precision, 340)), x);
  return Value(std::strtod(buf, nullptr));
}

Result<Value> f_center(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "center", {"width"}));
  int64_t width = 80;
  if (b.has(0)) {
    PODSERVE_ASSIGN_OR_RETURN(width, int_arg(b.get(0), "center() width"));
  }
  const std::string s = to_str(v);
  const int64_t len = utf8_length(s);
  if (width <= len) return Value(s);
  if (width > (int64_t{1} << 24)) return resource_exhausted("center() width is too large");
  // CPython's str.center: the odd space goes left when both the margin and the width are odd.
  const int64_t margin = width - len;
  const int64_t left = margin / 2 + (margin & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(margin - left), ' '));
}

Result<Value> f_batch(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "batch", {"linecount", "fill_with"}, 1));
  PODSERVE_ASSIGN_OR_RETURN(int64_t n, int_arg(b.get(0), "batch() linecount"));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  // jinja2's loop exactly: a row is closed when it is full *before* the next item goes in.
  Array out, row;
  for (const Value& item : items) {
    if (static_cast<int64_t>(row.size()) == n) {
      out.push_back(Value::array(std::move(row)));
      row.clear();
    }
    row.push_back(item);
  }
  if (!row.empty()) {
    if (b.has(1) && !b.get(1).is_none() && static_cast<int64_t>(row.size()) < n) {
      if (n > (int64_t{1} << 20)) return resource_exhausted("batch() linecount is too large to fill");
      while (static_cast<int64_t>(row.size()) < n) row.push_back(b.get(1));
    }
    out.push_back(Value::array(std::move(row)));
  }
  return Value::array(std::move(out), ArrayKind::kIterator);
}

Result<Value> f_escape(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "escape", {}).status());
  std::string out;
  for (char c : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out));
}

// A copy of `v` whose dicts have their keys sorted, as pprint prints them.
Result<Value> sorted_dicts(const Value& v) {
  if (v.is_array() && v.array_kind() != ArrayKind::kIterator) {
    Array items;
    for (const Value& item : v.as_array()) {
      PODSERVE_ASSIGN_OR_RETURN(Value copy, sorted_dicts(item));
      items.push_back(std::move(copy));
    }
    return Value::array(std::move(items), v.array_kind());
  }
  if (!v.is_dict()) return v;
  std::vector<std::pair<std::string, Value>> entries = v.as_object().entries;
  Status failure;
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    auto c = compare(dict_key_value(x.first), dict_key_value(y.first));
    if (!c.ok() && failure.ok()) failure = c.status();
    return c.ok() && *c < 0;
  });
  PODSERVE_RETURN_IF_ERROR(failure);
  auto obj = std::make_shared<Object>();
  for (auto& [k, item] : entries) {
    PODSERVE_ASSIGN_OR_RETURN(Value copy, sorted_dicts(item));
    obj->set(k, std::move(copy));
  }
  return Value::object(std::move(obj));
}

// pprint.pformat(value): sorted dict keys, and pprint's multi-line layout beyond 80 columns (pprint.cpp).
Result<Value> f_pprint(Evaluator& e, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "pprint", {}).status());
  PODSERVE_ASSIGN_OR_RETURN(Value sorted, sorted_dicts(v));
  PODSERVE_ASSIGN_OR_RETURN(std::string text, pretty_format(sorted));
  PODSERVE_RETURN_IF_ERROR(e.check_string_size(text.size()));
  return Value(std::move(text));
}

}  // namespace

FilterFn find_text_filter(std::string_view name);  // filters_text.cpp

FilterFn find_more_filter(std::string_view name) {
  static constexpr std::pair<std::string_view, FilterFn> kFilters[] = {
      {"batch", f_batch}, {"center", f_center}, {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape},
      {"max", f_max},     {"min", f_min},       {"pprint", f_pprint}, {"round", f_round},
  };
  for (const auto& [n, fn] : kFilters) {
    if (n == name) return fn;
  }
  return find_text_filter(name);
}

}  // namespace podserve::jinja
