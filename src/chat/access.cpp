// Attribute and item access, iteration, `in`, and the methods of str / dict / list values that jinja2's
// ImmutableSandboxedEnvironment allows (mutating methods resolve to an undefined that errors when called).
#include <algorithm>

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace podserve::jinja {

std::optional<Result<Value>> more_string_method(const std::string& s, std::string_view name,
                                                const CallArgs& a);  // string_methods_more.cpp

namespace {

constexpr std::string_view kStringMethods[] = {
    "capitalize", "count",   "endswith", "find",    "isalnum", "isalpha", "isdigit",    "islower",
    "isspace",    "isupper", "join",     "lower",   "lstrip",  "replace", "rfind",      "rstrip",
    "split",      "splitlines", "startswith", "strip", "title", "upper",
    "ljust",      "rjust",   "zfill",    "partition", "rpartition", "format",
    "casefold",   "swapcase", "removeprefix", "removesuffix", "center", "index", "rindex", "isdecimal",
    "isnumeric",  "expandtabs"};
constexpr std::string_view kDictMethods[] = {"copy", "get", "items", "keys", "values"};
constexpr std::string_view kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::string_view kListMethods[] = {"count", "index"};
constexpr std::string_view kListUnsafe[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};

template <size_t N>
bool among(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value no_attribute(const Value& obj, std::string_view name) {
  return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + std::string(name) + "'");
}

Value unsafe(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute '" + std::string(name) + "' of '" + type_name(obj) +
                          "' object is unsafe.");
}

bool all_of_ascii(const std::string& s, int (*pred)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

Result<bool> affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) -> Result<bool> {
    PODSERVE_ASSIGN_OR_RETURN(std::string a, string_arg(v, prefix ? "startswith argument" : "endswith argument"));
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_array() && affix.array_kind() == ArrayKind::kTuple) {
    for (const Value& v : affix.as_array()) {
      PODSERVE_ASSIGN_OR_RETURN(bool m, one(v));
      if (m) return true;
    }
    return false;
  }
  return one(affix);
}

std::optional<std::string> opt_chars(const BoundArgs& b, size_t i) {
  if (!b.has(i) || b.get(i).is_none()) return std::nullopt;
  return to_str(b.get(i));
}

Result<Value> string_method(const std::string& s, std::string_view name, const CallArgs& a) {
  const std::string fn = "str." + std::string(name);
  if (auto more = more_string_method(s, name, a)) return std::move(*more);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"chars"}));
    if (b.has(0) && !b.get(0).is_none() && !b.get(0).is_string()) return invalid_argument(fn + " arg must be None or str");
    return Value(py_strip(s, opt_chars(b, 0), name != "rstrip", name != "lstrip"));
  }
  if (name == "split") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"sep", "maxsplit"}));
    std::optional<std::string> sep;
    if (b.has(0) && !b.get(0).is_none()) {
      PODSERVE_ASSIGN_OR_RETURN(sep, string_arg(b.get(0), "sep"));
    }
    if (sep && sep->empty()) return invalid_argument("empty separator");
    int64_t maxsplit = -1;
    if (b.has(1)) {
      PODSERVE_ASSIGN_OR_RETURN(maxsplit, int_arg(b.get(1), "maxsplit"));
    }
    Array out;
    for (std::string& part : py_split(s, sep, maxsplit)) out.emplace_back(std::move(part));
    return Value::array(std::move(out));
  }
  if (name == "splitlines") {
    Array out;
    for (std::string& part : py_splitlines(s)) out.emplace_back(std::move(part));
    return Value::array(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"prefix"}, 1));
    PODSERVE_ASSIGN_OR_RETURN(bool m, affix_match(s, b.get(0), name == "startswith"));
    return Value(m);
  }
  if (name == "upper") return Value(py_upper(s));
  if (name == "lower") return Value(py_lower(s));
  if (name == "title") return Value(py_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  if (name == "replace") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"old", "new", "count"}, 2));
    PODSERVE_ASSIGN_OR_RETURN(std::string old_s, string_arg(b.get(0), "old"));
    PODSERVE_ASSIGN_OR_RETURN(std::string new_s, string_arg(b.get(1), "new"));
    int64_t count = -1;
    if (b.has(2)) {
      PODSERVE_ASSIGN_OR_RETURN(count, int_arg(b.get(2), "count"));
    }
    return Value(py_replace(s, old_s, new_s, count));
  }
  if (name == "find" || name == "rfind" || name == "count") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"sub"}, 1));
    PODSERVE_ASSIGN_OR_RETURN(std::string sub, string_arg(b.get(0), "sub"));
    if (name == "count") {
      if (sub.empty()) return Value(utf8_length(s) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    const size_t p = name == "find" ? s.find(sub) : s.rfind(sub);
    if (p == std::string::npos) return Value(-1);
    return Value(utf8_length(std::string_view(s).substr(0, p)));  // code point index
  }
  if (name == "join") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"iterable"}, 1));
    PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(b.get(0)));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return invalid_argument("sequence item " + std::to_string(i) + ": expected str instance, " +
                                type_name(items[i]) + " found");
      }
      if (i > 0) out += s;
      out += items[i].as_string();
    }
    return Value(std::move(out));
  }
  if (name == "isdigit") return Value(all_of_ascii(s, isdigit));
  if (name == "isalpha") return Value(all_of_ascii(s, isalpha));
  if (name == "isalnum") return Value(all_of_ascii(s, isalnum));
  if (name == "isspace") return Value(all_of_ascii(s, isspace));
  if (name == "islower" || name == "isupper") {
    const bool lower = name == "islower";
    bool cased = false;
    for (char c : s) {
      if (lower ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z')) return Value(false);
      cased = cased || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return Value(cased);
  }
  return invalid_argument("str has no method '" + std::string(name) + "'");
}

Result<Value> dict_method(const Object& o, std::string_view name, const CallArgs& a) {
  const std::string fn = "dict." + std::string(name);
  if (name == "get") {
    PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, fn, {"key", "default"}, 1));
    if (const auto stored = dict_key(b.get(0))) {
      if (const Value* v = o.find(*stored)) return *v;
    }
    return b.get_or(1, Value::none());
  }
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, fn, {}).status());
  Array out;
  for (const auto& [k, v] : o.entries) {
    if (name == "items") {
      out.push_back(Value::array({dict_key_value(k), v}, ArrayKind::kTuple));
    } else if (name == "keys") {
      out.push_back(dict_key_value(k));
    } else if (name == "values") {
      out.push_back(v);
    }
  }
  if (name == "copy") return Value::object(std::make_shared<Object>(o));
  return Value::array(std::move(out));
}

Result<Value> list_method(const Array& items, std::string_view name, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "list." + std::string(name), {"value"}, 1));
  int64_t count = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!equals(items[i], b.get(0))) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") return invalid_argument(repr(b.get(0)) + " is not in list");
  return Value(count);
}

Value bind_method(const Value& obj, std::string_view name) {
  auto fn = std::make_shared<Callable>();
  fn->name = type_name(obj) + "." + std::string(name);
  fn->fn = [obj, method = std::string(name)](Evaluator&, const CallArgs& args) -> Result<Value> {
    if (obj.is_string()) return string_method(obj.as_string(), method, args);
    if (obj.is_object()) return dict_method(obj.as_object(), method, args);
    return list_method(obj.as_array(), method, args);
  };
  return Value::callable(std::move(fn));
}

}  // namespace

Result<Value> get_attr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: return invalid_argument(obj.undefined_hint());
    case Value::Kind::kString:
      return among(kStringMethods, name) ? bind_method(obj, name) : no_attribute(obj, name);
    case Value::Kind::kArray:
      if (obj.array_kind() == ArrayKind::kIterator) return no_attribute(obj, name);
      if (obj.is_group_tuple() && (name == "grouper" || name == "list")) return obj.as_array()[name == "list"];
      if (among(kListMethods, name)) return bind_method(obj, name);
      return among(kListUnsafe, name) ? unsafe(obj, name) : no_attribute(obj, name);
    case Value::Kind::kObject: {
      const Object& o = obj.as_object();
      if (o.kind == ObjectKind::kDict) {
        if (among(kDictMethods, name)) return bind_method(obj, name);
        if (among(kDictUnsafe, name)) return unsafe(obj, name);
      }
      if (const Value* v = o.find(name)) return *v;
      return no_attribute(obj, name);
    }
    default: return no_attribute(obj, name);
  }
}

Result<Value> get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return invalid_argument(obj.undefined_hint());
  const bool int_key = key.is_int() || key.is_bool();
  const int64_t k = key.is_int() ? key.as_int() : (key.is_bool() ? int64_t{key.as_bool()} : 0);
  if (obj.is_string() && int_key) {
    const std::string& s = obj.as_string();
    if (is_ascii(s)) {
      const int64_t i = k < 0 ? k + static_cast<int64_t>(s.size()) : k;
      if (i >= 0 && i < static_cast<int64_t>(s.size())) return Value(std::string(1, s[i]));
    } else {
      const std::u32string cps = utf8_decode(s);
      const int64_t i = k < 0 ? k + static_cast<int64_t>(cps.size()) : k;
      if (i >= 0 && i < static_cast<int64_t>(cps.size())) return Value(utf8_encode(cps.substr(i, 1)));
    }
    return Value::undefined("string index out of range");
  }
  if (obj.is_array() && obj.array_kind() != ArrayKind::kIterator && int_key) {
    const Array& a = obj.as_array();
    const int64_t i = k < 0 ? k + static_cast<int64_t>(a.size()) : k;
    if (i >= 0 && i < static_cast<int64_t>(a.size())) return a[i];
    return Value::undefined("'" + type_name(obj) + " object' has no element " + std::to_string(k));
  }
  if (obj.is_dict()) {
    if (const auto stored = dict_key(key)) {
      if (const Value* v = obj.as_object().find(*stored)) return *v;
    }
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined("'" + type_name(obj) + " object' has no element " + repr(key));
}

Result<Value> get_attr_path(const Value& obj, std::string_view path) {
  Value cur = obj;
  size_t pos = 0;
  while (true) {
    const size_t dot = path.find('.', pos);
    const std::string_view part = path.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    const bool digits = !part.empty() && part.size() < 18 &&
                        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int64_t index = 0;
    for (char c : digits ? part : std::string_view()) index = index * 10 + (c - '0');
    PODSERVE_ASSIGN_OR_RETURN(cur, get_item(cur, digits ? Value(index) : Value(part)));
    if (dot == std::string_view::npos) return cur;
    pos = dot + 1;
  }
}

Result<Array> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return Array{};
    case Value::Kind::kArray: return value.as_array();
    case Value::Kind::kString: {
      Array out;
      for (char32_t c : utf8_decode(value.as_string())) out.emplace_back(utf8_encode(std::u32string(1, c)));
      return out;
    }
    case Value::Kind::kObject:
      if (value.as_object().kind == ObjectKind::kDict) {
        Array out;
        for (const auto& [k, v] : value.as_object().entries) out.push_back(dict_key_value(k));
        return out;
      }
      [[fallthrough]];
    default: return invalid_argument("'" + type_name(value) + "' object is not iterable");
  }
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!item.is_string()) {
        return invalid_argument("'in <string>' requires string as left operand, not " + type_name(item));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& v : container.as_array()) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kObject:
      if (container.as_object().kind == ObjectKind::kDict) {
        const auto stored = dict_key(item);
        return stored && container.as_object().find(*stored) != nullptr;
      }
      [[fallthrough]];
    default: return invalid_argument("argument of type '" + type_name(container) + "' is not iterable");
  }
}

}  // namespace podserve::jinja
