// Tests (`x is name(args)`), with jinja2 3.1 semantics. Undefined is iterable and a sequence there (it
// iterates as empty), and bool counts as a number but not as an integer.
#include <string_view>
#include <utility>

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

using Args = CallArgs;

Result<Value> one_arg(const Args& a, std::string_view name) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, name, {"other"}, 1));
  return b.get(0);
}

#define PODSERVE_SIMPLE_TEST(fn, expr)                                     \
  Result<bool> fn(Evaluator&, const Value& v, const Args& a) {             \
    PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, #fn, {}).status());        \
    return (expr);                                                         \
  }

PODSERVE_SIMPLE_TEST(t_defined, !v.is_undefined())
PODSERVE_SIMPLE_TEST(t_undefined, v.is_undefined())
PODSERVE_SIMPLE_TEST(t_none, v.is_none())
PODSERVE_SIMPLE_TEST(t_boolean, v.is_bool())
PODSERVE_SIMPLE_TEST(t_true, v.is_bool() && v.as_bool())
PODSERVE_SIMPLE_TEST(t_false, v.is_bool() && !v.as_bool())
PODSERVE_SIMPLE_TEST(t_integer, v.is_int())
PODSERVE_SIMPLE_TEST(t_float, v.is_float())
PODSERVE_SIMPLE_TEST(t_number, v.is_int() || v.is_float() || v.is_bool())
PODSERVE_SIMPLE_TEST(t_string, v.is_string())
PODSERVE_SIMPLE_TEST(t_mapping, v.is_dict())
PODSERVE_SIMPLE_TEST(t_callable, v.is_callable())
PODSERVE_SIMPLE_TEST(t_iterable, v.is_undefined() || v.is_string() || v.is_array() || v.is_dict())
PODSERVE_SIMPLE_TEST(t_sequence, v.is_undefined() || v.is_string() || v.is_dict() ||
                                     (v.is_array() && v.array_kind() != ArrayKind::kIterator))
PODSERVE_SIMPLE_TEST(t_lower, v.is_string() && py_lower(v.as_string()) == v.as_string() &&
                                  py_upper(v.as_string()) != v.as_string())
PODSERVE_SIMPLE_TEST(t_upper, v.is_string() && py_upper(v.as_string()) == v.as_string() &&
                                  py_lower(v.as_string()) != v.as_string())
PODSERVE_SIMPLE_TEST(t_escaped, false)
PODSERVE_SIMPLE_TEST(t_filter, v.is_string() && find_filter(v.as_string()) != nullptr)
PODSERVE_SIMPLE_TEST(t_test, v.is_string() && find_test(v.as_string()) != nullptr)

#undef PODSERVE_SIMPLE_TEST

Result<int64_t> integral(const Value& v, std::string_view test) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return int64_t{v.as_bool()};
  return invalid_argument("test '" + std::string(test) + "' needs an integer, got '" + type_name(v) + "'");
}

Result<bool> t_odd(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "odd", {}).status());
  PODSERVE_ASSIGN_OR_RETURN(int64_t n, integral(v, "odd"));
  return n % 2 != 0;
}

Result<bool> t_even(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "even", {}).status());
  PODSERVE_ASSIGN_OR_RETURN(int64_t n, integral(v, "even"));
  return n % 2 == 0;
}

Result<bool> t_divisibleby(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "divisibleby", {"num"}, 1));
  PODSERVE_ASSIGN_OR_RETURN(int64_t n, integral(v, "divisibleby"));
  PODSERVE_ASSIGN_OR_RETURN(int64_t d, integral(b.get(0), "divisibleby"));
  if (d == 0) return invalid_argument("integer division or modulo by zero");
  if (d == -1) return true;
  return n % d == 0;
}

Result<bool> t_eq(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(Value o, one_arg(a, "eq"));
  return equals(v, o);
}

Result<bool> t_ne(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(Value o, one_arg(a, "ne"));
  return !equals(v, o);
}

Result<bool> ordered(const Value& v, const Args& a, std::string_view name, bool (*pred)(int)) {
  PODSERVE_ASSIGN_OR_RETURN(Value o, one_arg(a, name));
  if (v.is_undefined()) return invalid_argument(v.undefined_hint());
  if (o.is_undefined()) return invalid_argument(o.undefined_hint());
  PODSERVE_ASSIGN_OR_RETURN(int c, compare(v, o));
  return pred(c);
}
Result<bool> t_lt(Evaluator&, const Value& v, const Args& a) { return ordered(v, a, "lt", [](int c) { return c < 0; }); }
Result<bool> t_le(Evaluator&, const Value& v, const Args& a) { return ordered(v, a, "le", [](int c) { return c <= 0; }); }
Result<bool> t_gt(Evaluator&, const Value& v, const Args& a) { return ordered(v, a, "gt", [](int c) { return c > 0; }); }
Result<bool> t_ge(Evaluator&, const Value& v, const Args& a) { return ordered(v, a, "ge", [](int c) { return c >= 0; }); }

Result<bool> t_in(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(Value seq, one_arg(a, "in"));
  return contains(seq, v);
}

Result<bool> t_sameas(Evaluator&, const Value& v, const Args& a) {
  PODSERVE_ASSIGN_OR_RETURN(Value o, one_arg(a, "sameas"));
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined: return true;
    case Value::Kind::kBool: return v.as_bool() == o.as_bool();
    case Value::Kind::kArray: return &v.as_array() == &o.as_array();
    case Value::Kind::kObject: return &v.as_object() == &o.as_object();
    case Value::Kind::kCallable: return &v.as_callable() == &o.as_callable();
    default: return equals(v, o);  // small ints and interned strings are identical in CPython
  }
}

}  // namespace

TestFn find_test(std::string_view name) {
  static constexpr std::pair<std::string_view, TestFn> kTests[] = {
      {"!=", t_ne},          {"<", t_lt},           {"<=", t_le},           {"==", t_eq},
      {">", t_gt},           {">=", t_ge},          {"boolean", t_boolean}, {"callable", t_callable},
      {"defined", t_defined}, {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq},
      {"escaped", t_escaped}, {"even", t_even},     {"false", t_false},     {"filter", t_filter},
      {"float", t_float},    {"ge", t_ge},          {"greaterthan", t_gt},  {"gt", t_gt},
      {"in", t_in},          {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le},
      {"lessthan", t_lt},    {"lower", t_lower},    {"lt", t_lt},           {"mapping", t_mapping},
      {"ne", t_ne},          {"none", t_none},      {"number", t_number},   {"odd", t_odd},
      {"sameas", t_sameas},  {"sequence", t_sequence}, {"string", t_string}, {"test", t_test},
      {"true", t_true},      {"undefined", t_undefined}, {"upper", t_upper},
  };
  for (const auto& [n, fn] : kTests) {
    if (n == name) return fn;
  }
  return nullptr;
}

}  // namespace podserve::jinja
