// Sequence filters: map, select/reject, selectattr/rejectattr, reverse, unique, sort, sum.
#include <algorithm>
#include <set>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

Value iterator(Array items) { return Value::array(std::move(items), ArrayKind::kIterator); }

// select / reject / selectattr / rejectattr share jinja2's prepare_select_or_reject.
Result<Value> select_or_reject(Evaluator& ev, const Value& v, const CallArgs& a, bool by_attr, bool keep_if,
                               std::string_view fn) {
  size_t off = 0;
  std::string attr;
  if (by_attr) {
    if (a.args.empty()) return invalid_argument(std::string(fn) + ": missing parameter for attribute name");
    attr = to_str(a.args[0]);
    off = 1;
  }
  std::string test;
  CallArgs test_args;
  const bool has_test = a.args.size() > off;
  if (has_test) {
    PODSERVE_ASSIGN_OR_RETURN(test, string_arg(a.args[off], "test name"));
    test_args.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(off + 1), a.args.end());
    test_args.kwargs = a.kwargs;
  }
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  Array out;
  for (const Value& item : items) {
    Value probe = item;
    if (by_attr) {
      PODSERVE_ASSIGN_OR_RETURN(probe, get_attr_path(item, attr));
    }
    bool pass = truthy(probe);
    if (has_test) {
      PODSERVE_ASSIGN_OR_RETURN(pass, ev.apply_test(test, probe, test_args, Loc{}));
    }
    if (pass == keep_if) out.push_back(item);
  }
  return iterator(std::move(out));
}

// A hashable key for unique(): Python's 1 == 1.0 == True hash alike; lists and dicts are unhashable.
Result<std::string> hash_key(const Value& v, bool case_sensitive) {
  switch (v.kind()) {
    case Value::Kind::kNone: return std::string("N");
    case Value::Kind::kBool: return std::string(v.as_bool() ? "n1" : "n0");
    case Value::Kind::kInt: return "n" + std::to_string(v.as_int());
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -9e18 && d < 9e18) {
        return "n" + std::to_string(static_cast<int64_t>(d));
      }
      return "n" + format_float(d);
    }
    case Value::Kind::kString: return "s" + (case_sensitive ? v.as_string() : py_lower(v.as_string()));
    case Value::Kind::kArray:
      if (v.array_kind() == ArrayKind::kTuple) {
        std::string k = "t(";
        for (const Value& item : v.as_array()) {
          PODSERVE_ASSIGN_OR_RETURN(std::string part, hash_key(item, case_sensitive));
          k += std::to_string(part.size()) + ":" + part;
        }
        return k + ")";
      }
      break;
    default: break;
  }
  return invalid_argument("unhashable type: '" + type_name(v) + "'");
}

}  // namespace

Result<Value> filter_select(Evaluator& ev, const Value& v, const CallArgs& a) {
  return select_or_reject(ev, v, a, false, true, "select");
}
Result<Value> filter_reject(Evaluator& ev, const Value& v, const CallArgs& a) {
  return select_or_reject(ev, v, a, false, false, "reject");
}
Result<Value> filter_selectattr(Evaluator& ev, const Value& v, const CallArgs& a) {
  return select_or_reject(ev, v, a, true, true, "selectattr");
}
Result<Value> filter_rejectattr(Evaluator& ev, const Value& v, const CallArgs& a) {
  return select_or_reject(ev, v, a, true, false, "rejectattr");
}

Result<Value> filter_map(Evaluator& ev, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  Array out;
  if (a.args.empty()) {
    const Value* attribute = nullptr;
    Value fallback = Value::none();
    for (const auto& [k, val] : a.kwargs) {
      if (k == "attribute") {
        attribute = &val;
      } else if (k == "default") {
        fallback = val;
      } else {
        return invalid_argument("map: unexpected keyword argument '" + k + "'");
      }
    }
    if (attribute == nullptr) return invalid_argument("map requires a filter argument");
    const std::string path = to_str(*attribute);
    for (const Value& item : items) {
      PODSERVE_ASSIGN_OR_RETURN(Value r, get_attr_path(item, path));
      out.push_back(r.is_undefined() ? fallback : std::move(r));
    }
    return iterator(std::move(out));
  }
  PODSERVE_ASSIGN_OR_RETURN(std::string name, string_arg(a.args[0], "map filter name"));
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : items) {
    PODSERVE_ASSIGN_OR_RETURN(Value r, ev.apply_filter(name, item, rest, Loc{}));
    out.push_back(std::move(r));
  }
  return iterator(std::move(out));
}

Result<Value> filter_reverse(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "reverse", {}).status());
  if (v.is_string()) {
    std::u32string cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(utf8_encode(cps));
  }
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  std::reverse(items.begin(), items.end());
  return iterator(std::move(items));
}

Result<Value> filter_unique(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "unique", {"case_sensitive", "attribute"}));
  const bool case_sensitive = b.has(0) && truthy(b.get(0));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  std::set<std::string> seen;
  Array out;
  for (const Value& item : items) {
    Value key = item;
    if (b.has(1) && !b.get(1).is_none()) {
      PODSERVE_ASSIGN_OR_RETURN(key, get_attr_path(item, to_str(b.get(1))));
    }
    PODSERVE_ASSIGN_OR_RETURN(std::string h, hash_key(key, case_sensitive));
    if (seen.insert(std::move(h)).second) out.push_back(item);
  }
  return iterator(std::move(out));
}

Result<Value> filter_sort(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "sort", {"reverse", "case_sensitive", "attribute"}));
  const bool reverse = b.has(0) && truthy(b.get(0));
  const bool case_sensitive = b.has(1) && truthy(b.get(1));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = items[i];
    if (b.has(2) && !b.get(2).is_none()) {
      // jinja2's make_multi_attrgetter: "a,b" sorts by the list [item.a, item.b].
      const std::string attribute = to_str(b.get(2));
      Array parts;
      for (const std::string& path : py_split(attribute, std::string(","), -1)) {
        PODSERVE_ASSIGN_OR_RETURN(Value part, get_attr_path(items[i], path));
        if (part.is_string() && !case_sensitive) part = Value(py_lower(part.as_string()));
        parts.push_back(std::move(part));
      }
      key = parts.size() == 1 ? std::move(parts[0]) : Value::array(std::move(parts));
    } else if (key.is_string() && !case_sensitive) {
      key = Value(py_lower(key.as_string()));
    }
    keyed.emplace_back(std::move(key), i);
  }
  Status failure;
  // stable_sort stays in bounds even if an error makes the comparison inconsistent.
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    if (!failure.ok()) return false;
    auto c = reverse ? compare(y.first, x.first) : compare(x.first, y.first);
    if (!c.ok()) {
      failure = c.status();
      return false;
    }
    return *c < 0;
  });
  PODSERVE_RETURN_IF_ERROR(failure);
  Array out;
  for (const auto& [key, i] : keyed) out.push_back(items[i]);
  return Value::array(std::move(out));
}

Result<Value> filter_sum(Evaluator& ev, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "sum", {"attribute", "start"}));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  Value total = b.get_or(1, Value(0));
  for (const Value& item : items) {
    Value x = item;
    if (b.has(0) && !b.get(0).is_none()) {
      PODSERVE_ASSIGN_OR_RETURN(x, get_attr_path(item, to_str(b.get(0))));
    }
    PODSERVE_ASSIGN_OR_RETURN(total, binary_op("+", total, x, ev));
  }
  return total;
}

}  // namespace podserve::jinja
