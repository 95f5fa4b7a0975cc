// Value: the dynamic type the template interpreter computes with. Mirrors the Python objects jinja2 sees
// when transformers renders a chat template: None/Undefined, bool, int, float, str, list/tuple, dict (insertion
// ordered), jinja2's Namespace and loop objects, and callables (macros, builtins, bound string/dict methods).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace podserve::jinja {

class Value;
class Evaluator;
struct Object;
struct Callable;
using Array = std::vector<Value>;

/// Python flavour of a sequence value: a list, a tuple (prints with parentheses) or a one-shot iterator
/// such as the generator `selectattr` returns (always truthy, has no length, not JSON serializable).
enum class ArrayKind : uint8_t { kList, kTuple, kIterator };

/// Flavour of a string-keyed mapping: a dict, a `namespace()` (the only mutable object), or a `loop` object.
enum class ObjectKind : uint8_t { kDict, kNamespace, kLoop };

/// Deepest nesting of lists/dicts a render may build or receive; keeps recursion (printing, comparison,
/// destruction) far from the stack limit.
inline constexpr int kMaxValueDepth = 256;

class Value {
 public:
  enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kCallable };

  Value() = default;  // undefined
  Value(bool b) : kind_(Kind::kBool), data_(b) {}                          // NOLINT: implicit by design
  Value(int i) : kind_(Kind::kInt), data_(int64_t{i}) {}                   // NOLINT
  Value(int64_t i) : kind_(Kind::kInt), data_(i) {}                        // NOLINT
  Value(double d) : kind_(Kind::kFloat), data_(d) {}                       // NOLINT
  Value(std::string s) : kind_(Kind::kString), data_(std::move(s)) {}      // NOLINT
  Value(std::string_view s) : Value(std::string(s)) {}                     // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                          // NOLINT

  static Value none();
  /// An undefined value; `hint` is the UndefinedError message used if the value is misused later.
  static Value undefined(std::string hint);
  static Value array(Array items, ArrayKind kind = ArrayKind::kList);
  /// groupby's `(grouper, list)` namedtuple: a tuple whose items are also the attributes `grouper` / `list`.
  static Value group_tuple(Value grouper, Value list);
  static Value object(std::shared_ptr<Object> obj);
  /// A new, empty dict.
  static Value dict();
  static Value callable(std::shared_ptr<const Callable> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  /// int or float (bool excluded; callers that follow Python's bool-is-int rule check is_bool too).
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_dict() const;
  bool is_namespace() const;
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  /// Number as double (bool counts as 0/1, like Python).
  double to_double() const;
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const Array& as_array() const { return *std::get<std::shared_ptr<const Array>>(data_); }
  ArrayKind array_kind() const { return array_kind_; }
  bool is_group_tuple() const { return group_tuple_; }
  const Object& as_object() const { return *std::get<std::shared_ptr<Object>>(data_); }
  /// The shared object; namespaces are mutated through it.
  const std::shared_ptr<Object>& object_ptr() const { return std::get<std::shared_ptr<Object>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  /// For undefined values: the message an UndefinedError reports.
  std::string undefined_hint() const;

  /// Nesting depth of lists/dicts (scalars are 0).
  int depth() const;
  /// Whether a namespace or loop object (the mutable ones) is reachable from this value. Namespaces may not
  /// hold such values, so no reference cycle can form.
  bool contains_namespace() const;

 private:
  Kind kind_ = Kind::kUndefined;
  ArrayKind array_kind_ = ArrayKind::kList;
  bool has_namespace_ = false;  // arrays only
  bool group_tuple_ = false;    // arrays only: made by group_tuple()
  int depth_ = 0;               // arrays only; objects keep theirs in Object
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const Array>,
               std::shared_ptr<Object>, std::shared_ptr<const Callable>>
      data_;
};

/// A string-keyed mapping that keeps insertion order (Python dicts do).
struct Object {
  ObjectKind kind = ObjectKind::kDict;
  std::vector<std::pair<std::string, Value>> entries;
  int depth = 1;
  bool has_namespace = false;

  const Value* find(std::string_view key) const;
  /// Replaces the value of an existing key (keeping its position) or appends a new one.
  void set(std::string key, Value value);
};

/// Dict keys are stored as strings. Other hashable scalars (Python dicts take any) start with "\0": the
/// canonical part decides equality as Python's hash/== do (True == 1 == 1.0), a second "\0" and a tag keep
/// the key's own type for printing: int "\0<digits>", bool "\0<0|1>\0b", integral float "\0<digits>\0f<repr>",
/// other floats "\0f<repr>", None "\0N". `dict_key` gives the stored form (nullopt for unhashable or
/// unsupported types: lists, dicts, tuples), `dict_key_value` turns it back into its Value, and
/// `same_dict_key` compares two stored forms by their canonical parts.
std::optional<std::string> dict_key(const Value& key);
Value dict_key_value(const std::string& stored);
bool same_dict_key(std::string_view a, std::string_view b);

/// Positional and keyword arguments of a call, in source order.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

/// A function value: builtin global, bound method, macro or `caller`.
struct Callable {
  using Fn = std::function<Result<Value>(Evaluator&, const CallArgs&)>;
  std::string name;
  Fn fn;
};

/// Python truthiness.
bool truthy(const Value& v);
/// Python `str(v)` (what `{{ v }}` prints); undefined prints as "".
std::string to_str(const Value& v);
/// Python `repr(v)`.
std::string repr(const Value& v);
/// Python `==` (1 == 1.0 == True; a list never equals a tuple).
bool equals(const Value& a, const Value& b);
/// Python ordering (`<`): -1, 0 or 1, or a TypeError-like error for unorderable types.
Result<int> compare(const Value& a, const Value& b);
/// Type name as Python's error messages spell it ("int", "str", "dict", "list", ...).
std::string type_name(const Value& v);

}  // namespace podserve::jinja
