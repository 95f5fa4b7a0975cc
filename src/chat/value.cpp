#include "chat/value.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/py_string.h"

namespace podserve::jinja {

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.data_ = std::move(hint);
  return v;
}

Value Value::group_tuple(Value grouper, Value list) {
  Value v = array({std::move(grouper), std::move(list)}, ArrayKind::kTuple);
  v.group_tuple_ = true;
  return v;
}

Value Value::array(Array items, ArrayKind kind) {
  Value v;
  v.kind_ = Kind::kArray;
  v.array_kind_ = kind;
  for (const Value& item : items) {
    v.depth_ = std::max(v.depth_, item.depth() + 1);
    v.has_namespace_ = v.has_namespace_ || item.contains_namespace();
  }
  if (items.empty()) v.depth_ = 1;
  v.data_ = std::make_shared<const Array>(std::move(items));
  return v;
}

Value Value::object(std::shared_ptr<Object> obj) {
  Value v;
  v.kind_ = Kind::kObject;
  int depth = 1;
  bool has_ns = false;
  for (const auto& [key, item] : obj->entries) {
    depth = std::max(depth, item.depth() + 1);
    has_ns = has_ns || item.contains_namespace();
  }
  obj->depth = depth;
  obj->has_namespace = has_ns;
  v.data_ = std::move(obj);
  return v;
}

Value Value::dict() { return object(std::make_shared<Object>()); }

Value Value::callable(std::shared_ptr<const Callable> fn) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.data_ = std::move(fn);
  return v;
}

bool Value::is_dict() const { return kind_ == Kind::kObject && as_object().kind == ObjectKind::kDict; }
bool Value::is_namespace() const { return kind_ == Kind::kObject && as_object().kind == ObjectKind::kNamespace; }

double Value::to_double() const {
  switch (kind_) {
    case Kind::kBool: return as_bool() ? 1.0 : 0.0;
    case Kind::kInt: return static_cast<double>(as_int());
    case Kind::kFloat: return as_float();
    default: return 0.0;
  }
}

std::string Value::undefined_hint() const {
  if (const auto* s = std::get_if<std::string>(&data_); s != nullptr && !s->empty()) return *s;
  return "value is undefined";
}

int Value::depth() const {
  if (kind_ == Kind::kArray) return depth_;
  if (kind_ == Kind::kObject) return as_object().depth;
  return 0;
}

bool Value::contains_namespace() const {
  if (kind_ == Kind::kArray) return has_namespace_;
  // Loop objects count too: they change every iteration, so storing one could also build a cycle.
  if (kind_ == Kind::kObject) return as_object().kind != ObjectKind::kDict || as_object().has_namespace;
  return false;
}

std::optional<std::string> dict_key(const Value& key) {
  const std::string nul(1, '\0');
  if (key.is_string()) return key.as_string();
  if (key.is_int()) return nul + std::to_string(key.as_int());
  if (key.is_bool()) return nul + (key.as_bool() ? "1" : "0") + nul + "b";
  if (key.is_none()) return nul + "N";
  if (key.is_float()) {
    const double d = key.as_float();
    if (d == std::trunc(d) && std::fabs(d) < 9.2e18) {
      return nul + std::to_string(static_cast<int64_t>(d)) + nul + "f" + format_float(d);  // repr keeps -0.0
    }
    return nul + "f" + format_float(d);
  }
  return std::nullopt;
}

namespace {

// The part of a stored key that decides equality (drops the type tag).
std::string_view canonical_key(std::string_view k) {
  if (k.empty() || k[0] != '\0') return k;
  return k.substr(0, k.find('\0', 1));
}

}  // namespace

bool same_dict_key(std::string_view a, std::string_view b) { return canonical_key(a) == canonical_key(b); }

Value dict_key_value(const std::string& stored) {
  if (stored.empty() || stored[0] != '\0') return Value(stored);
  const std::string_view canonical = canonical_key(stored);
  const std::string_view tag = std::string_view(stored).substr(canonical.size());
  if (canonical == std::string_view("\0N", 2)) return Value::none();
  if (canonical.size() > 1 && canonical[1] == 'f') return Value(std::strtod(stored.c_str() + 2, nullptr));
  const auto n = static_cast<int64_t>(std::strtoll(stored.c_str() + 1, nullptr, 10));
  if (tag == std::string_view("\0b", 2)) return Value(n != 0);
  if (tag.starts_with(std::string_view("\0f", 2))) return Value(std::strtod(tag.data() + 2, nullptr));
  return Value(n);
}

const Value* Object::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (same_dict_key(k, key)) return &v;
  }
  return nullptr;
}

void Object::set(std::string key, Value value) {
  depth = std::max(depth, value.depth() + 1);
  has_namespace = has_namespace || value.contains_namespace();
  for (auto& [k, v] : entries) {
    if (same_dict_key(k, key)) {  // Python keeps the first key object, with the last value
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.as_bool();
    case Value::Kind::kInt: return v.as_int() != 0;
    case Value::Kind::kFloat: return v.as_float() != 0.0;
    case Value::Kind::kString: return !v.as_string().empty();
    case Value::Kind::kArray: return v.array_kind() == ArrayKind::kIterator || !v.as_array().empty();
    case Value::Kind::kObject:
      return v.as_object().kind != ObjectKind::kDict || !v.as_object().entries.empty();
    case Value::Kind::kCallable: return true;
  }
  return false;
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kString: return v.as_string();
    default: return repr(v);
  }
}

std::string repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.as_int());
    case Value::Kind::kFloat: return format_float(v.as_float());
    case Value::Kind::kString: return py_repr_string(v.as_string());
    case Value::Kind::kArray: {
      if (v.array_kind() == ArrayKind::kIterator) return "<generator object>";
      const Array& a = v.as_array();
      const bool tuple = v.array_kind() == ArrayKind::kTuple;
      std::string out = tuple ? "(" : "[";
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ", ";
        out += repr(a[i]);
      }
      if (tuple && a.size() == 1) out += ",";
      return out + (tuple ? ")" : "]");
    }
    case Value::Kind::kObject: {
      const Object& o = v.as_object();
      std::string out = o.kind == ObjectKind::kNamespace ? "<Namespace {" : "{";
      if (o.kind == ObjectKind::kLoop) return "<LoopContext>";
      for (size_t i = 0; i < o.entries.size(); ++i) {
        if (i > 0) out += ", ";
        out += repr(dict_key_value(o.entries[i].first)) + ": " + repr(o.entries[i].second);
      }
      return out + (o.kind == ObjectKind::kNamespace ? "}>" : "}");
    }
    case Value::Kind::kCallable: return "<function " + v.as_callable().name + ">";
  }
  return "";
}

namespace {
bool numeric(const Value& v) { return v.is_bool() || v.is_int() || v.is_float(); }
}  // namespace

bool equals(const Value& a, const Value& b) {
  if (numeric(a) && numeric(b)) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return (a.is_bool() ? int64_t{a.as_bool()} : a.as_int()) == (b.is_bool() ? int64_t{b.as_bool()} : b.as_int());
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kArray: {
      if (a.array_kind() != b.array_kind()) return false;
      if (a.array_kind() == ArrayKind::kIterator) return &a.as_array() == &b.as_array();
      const Array &x = a.as_array(), &y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      const Object &x = a.as_object(), &y = b.as_object();
      if (x.kind != ObjectKind::kDict || y.kind != ObjectKind::kDict) return &x == &y;
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {  // order-insensitive, like dict ==
        const Value* other = y.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kCallable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

Result<int> compare(const Value& a, const Value& b) {
  if (numeric(a) && numeric(b)) {
    if (!a.is_float() && !b.is_float()) {
      const int64_t x = a.is_bool() ? a.as_bool() : a.as_int(), y = b.is_bool() ? b.as_bool() : b.as_int();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const double x = a.to_double(), y = b.to_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array() && a.array_kind() == b.array_kind() && a.array_kind() != ArrayKind::kIterator) {
    const Array &x = a.as_array(), &y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return invalid_argument("'<' not supported between instances of '" + type_name(a) + "' and '" +
                          type_name(b) + "'");
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kArray:
      return v.array_kind() == ArrayKind::kTuple ? "tuple" : (v.array_kind() == ArrayKind::kList ? "list" : "generator");
    case Value::Kind::kObject:
      switch (v.as_object().kind) {
        case ObjectKind::kDict: return "dict";
        case ObjectKind::kNamespace: return "Namespace";
        case ObjectKind::kLoop: return "LoopContext";
      }
      return "object";
    case Value::Kind::kCallable: return "function";
  }
  return "object";
}

}  // namespace podserve::jinja
