// Arithmetic with Python semantics (floor division and modulo follow the divisor's sign; int overflow is an
// error instead of a bigint), plus argument binding helpers for builtins.
#include <cmath>

#include "chat/builtins.h"
#include "chat/evaluator.h"

namespace podserve::jinja {
namespace {

bool is_num(const Value& v) { return v.is_int() || v.is_float() || v.is_bool(); }
int64_t as_i(const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); }
bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }

Status unsupported(std::string_view op, const Value& a, const Value& b) {
  return invalid_argument("unsupported operand type(s) for " + std::string(op) + ": '" + type_name(a) + "' and '" +
                          type_name(b) + "'");
}

Result<Value> repeat(const Value& seq, int64_t times, const Evaluator& ev) {
  if (times <= 0) return seq.is_string() ? Value("") : Value::array({}, seq.array_kind());
  if (seq.is_string()) {
    const size_t n = seq.as_string().size();
    if (n != 0) PODSERVE_RETURN_IF_ERROR(ev.check_string_size(static_cast<double>(n) * times > 1e18 ? SIZE_MAX : n * times));
    std::string out;
    for (int64_t i = 0; i < times && n != 0; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  const Array& a = seq.as_array();
  if (!a.empty()) PODSERVE_RETURN_IF_ERROR(ev.check_items(static_cast<double>(a.size()) * times > 1e18 ? SIZE_MAX : a.size() * times));
  Array out;
  for (int64_t i = 0; i < times && !a.empty(); ++i) out.insert(out.end(), a.begin(), a.end());
  return Value::array(std::move(out), seq.array_kind());
}

}  // namespace

Result<Value> unary_op(std::string_view op, const Value& v) {
  if (v.is_undefined()) return invalid_argument(v.undefined_hint());
  if (!is_num(v)) return invalid_argument("bad operand type for unary " + std::string(op) + ": '" + type_name(v) + "'");
  if (op == "+") return v.is_bool() ? Value(as_i(v)) : v;
  if (v.is_float()) return Value(-v.as_float());
  if (as_i(v) == INT64_MIN) return invalid_argument("integer overflow");
  return Value(-as_i(v));
}

Result<Value> binary_op(std::string_view op, const Value& a, const Value& b, const Evaluator& ev) {
  if (op == "~") {
    std::string s = to_str(a);
    const std::string t = to_str(b);
    PODSERVE_RETURN_IF_ERROR(ev.check_string_size(s.size() + t.size()));
    return Value(s + t);
  }
  if (a.is_undefined()) return invalid_argument(a.undefined_hint());
  if (b.is_undefined()) return invalid_argument(b.undefined_hint());
  if (is_num(a) && is_num(b)) {
    const bool ints = is_integral(a) && is_integral(b);
    const int64_t x = ints ? as_i(a) : 0, y = ints ? as_i(b) : 0;
    const double fx = a.to_double(), fy = b.to_double();
    int64_t r = 0;
    if (op == "+") {
      if (!ints) return Value(fx + fy);
      if (__builtin_add_overflow(x, y, &r)) return invalid_argument("integer overflow");
      return Value(r);
    }
    if (op == "-") {
      if (!ints) return Value(fx - fy);
      if (__builtin_sub_overflow(x, y, &r)) return invalid_argument("integer overflow");
      return Value(r);
    }
    if (op == "*") {
      if (!ints) return Value(fx * fy);
      if (__builtin_mul_overflow(x, y, &r)) return invalid_argument("integer overflow");
      return Value(r);
    }
    if (op == "/") {
      if (fy == 0.0) return invalid_argument("division by zero");
      return Value(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (ints) {
        if (y == 0) return invalid_argument("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return invalid_argument("integer overflow");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return Value(op == "//" ? q : m);
      }
      if (fy == 0.0) return invalid_argument("float division by zero");
      if (op == "//") return Value(std::floor(fx / fy));
      double m = std::fmod(fx, fy);
      if (m != 0.0 && ((m < 0) != (fy < 0))) m += fy;
      return Value(m);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t result = 1, base = x;
        for (int64_t e = y; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) return invalid_argument("integer overflow");
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) return invalid_argument("integer overflow");
        }
        return Value(result);
      }
      if (fx == 0.0 && fy < 0) return invalid_argument("0.0 cannot be raised to a negative power");
      return Value(std::pow(fx, fy));
    }
    return unsupported(op, a, b);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      PODSERVE_RETURN_IF_ERROR(ev.check_string_size(a.as_string().size() + b.as_string().size()));
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_string()) return invalid_argument("can only concatenate str (not \"" + type_name(b) + "\") to str");
    if (a.is_array() && b.is_array() && a.array_kind() == b.array_kind() && a.array_kind() != ArrayKind::kIterator) {
      PODSERVE_RETURN_IF_ERROR(ev.check_items(a.as_array().size() + b.as_array().size()));
      Array out = a.as_array();
      out.insert(out.end(), b.as_array().begin(), b.as_array().end());
      return Value::array(std::move(out), a.array_kind());
    }
    return unsupported(op, a, b);
  }
  if (op == "*") {
    const bool seq_a = a.is_string() || (a.is_array() && a.array_kind() != ArrayKind::kIterator);
    const bool seq_b = b.is_string() || (b.is_array() && b.array_kind() != ArrayKind::kIterator);
    if (seq_a && is_integral(b)) return repeat(a, as_i(b), ev);
    if (seq_b && is_integral(a)) return repeat(b, as_i(a), ev);
  }
  if (op == "%" && a.is_string()) {
    PODSERVE_ASSIGN_OR_RETURN(Value text, percent_format(a.as_string(), b));
    PODSERVE_RETURN_IF_ERROR(ev.check_string_size(text.as_string().size()));
    return text;
  }
  return unsupported(op, a, b);
}

Result<BoundArgs> BoundArgs::bind(const CallArgs& call, std::string_view fn_name,
                                  std::initializer_list<std::string_view> params, size_t required) {
  BoundArgs out;
  out.values_.resize(params.size());
  if (call.args.size() > params.size()) {
    return invalid_argument(std::string(fn_name) + "() takes at most " + std::to_string(params.size()) +
                            " argument(s) (" + std::to_string(call.args.size()) + " given)");
  }
  for (size_t i = 0; i < call.args.size(); ++i) out.values_[i] = call.args[i];
  for (const auto& [key, v] : call.kwargs) {
    size_t i = 0;
    for (std::string_view p : params) {
      if (p == key) break;
      ++i;
    }
    if (i == params.size()) {
      return invalid_argument(std::string(fn_name) + "() got an unexpected keyword argument '" + key + "'");
    }
    if (out.values_[i]) return invalid_argument(std::string(fn_name) + "() got multiple values for argument '" + key + "'");
    out.values_[i] = v;
  }
  for (size_t i = 0; i < required; ++i) {
    if (!out.values_[i]) {
      return invalid_argument(std::string(fn_name) + "() missing required argument '" +
                              std::string(*(params.begin() + i)) + "'");
    }
  }
  return out;
}

Result<int64_t> int_arg(const Value& v, std::string_view what) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return int64_t{v.as_bool()};
  return invalid_argument(std::string(what) + " must be an integer, not '" + type_name(v) + "'");
}

Result<std::string> string_arg(const Value& v, std::string_view what) {
  if (v.is_string()) return v.as_string();
  return invalid_argument(std::string(what) + " must be a string, not '" + type_name(v) + "'");
}

}  // namespace podserve::jinja
