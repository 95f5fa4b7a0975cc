// Builtins the evaluator dispatches to: filters, tests, global functions, attribute/item access and the
// methods of str, dict and list values (what jinja2's ImmutableSandboxedEnvironment allows).
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/value.h"

namespace podserve::jinja {

class Evaluator;

using FilterFn = Result<Value> (*)(Evaluator&, const Value&, const CallArgs&);
using TestFn = Result<bool> (*)(Evaluator&, const Value&, const CallArgs&);

/// nullptr when jinja2 (as transformers configures it) has no such filter / test / global.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);
std::optional<Value> find_global(std::string_view name);

/// `obj.name` with jinja2's sandboxed getattr: Python attributes (methods) first, then items; undefined if
/// neither exists. Errors only when `obj` itself is undefined.
Result<Value> get_attr(const Value& obj, std::string_view name);
/// `obj[key]`: items first, then attributes for string keys; undefined if neither exists.
Result<Value> get_item(const Value& obj, const Value& key);

/// jinja2's attribute getter for filters: "a.b.0" looks each part up as an item (digit parts as ints).
Result<Value> get_attr_path(const Value& obj, std::string_view path);

/// The elements `for x in value` visits (dict keys, string characters); an error for non-iterables.
Result<Array> iterate(const Value& value);

/// Arithmetic and concatenation: `+ - * / // % **` and `~` (operators.cpp). Undefined operands are
/// errors except for `~`.
Result<Value> binary_op(std::string_view op, const Value& a, const Value& b, const Evaluator& ev);
/// Unary `-` / `+`.
Result<Value> unary_op(std::string_view op, const Value& v);
/// Python's `fmt % args` (percent_format.cpp).
Result<Value> percent_format(const std::string& fmt, const Value& args);
/// `item in container`.
Result<bool> contains(const Value& container, const Value& item);
/// pprint.pformat of a value whose dicts already have sorted keys (pprint.cpp).
Result<std::string> pretty_format(const Value& sorted);

/// Python-style binding of call arguments to named parameters.
class BoundArgs {
 public:
  /// Fails on too many positional arguments, unknown or repeated keywords, or missing required ones
  /// (the first `required` parameters).
  static Result<BoundArgs> bind(const CallArgs& call, std::string_view fn_name,
                                std::initializer_list<std::string_view> params, size_t required = 0);
  bool has(size_t i) const { return values_[i].has_value(); }
  const Value& get(size_t i) const { return *values_[i]; }
  Value get_or(size_t i, Value fallback) const { return has(i) ? *values_[i] : std::move(fallback); }

 private:
  std::vector<std::optional<Value>> values_;
};

/// Error unless `v` is an int (or bool); names the function and parameter.
Result<int64_t> int_arg(const Value& v, std::string_view what);
/// Error unless `v` is a string.
Result<std::string> string_arg(const Value& v, std::string_view what);

}  // namespace podserve::jinja
