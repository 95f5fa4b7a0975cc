// The rarer str methods: ljust, rjust, zfill, partition, rpartition (access.cpp has the common ones).
#include <optional>
#include <string>

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace podserve::jinja {

Result<Value> str_format(const std::string& fmt, const CallArgs& args);  // str_format.cpp

/// nullopt when `name` is not one of the methods here.
std::optional<Result<Value>> more_string_method(const std::string& s, std::string_view name, const CallArgs& a) {
  const std::string fn = "str." + std::string(name);
  if (name == "format") return str_format(s, a);
  if (name == "ljust" || name == "rjust" || name == "zfill") {
    const bool zfill = name == "zfill";
    auto b = zfill ? BoundArgs::bind(a, fn, {"width"}, 1) : BoundArgs::bind(a, fn, {"width", "fillchar"}, 1);
    if (!b.ok()) return Result<Value>(b.status());
    auto width = int_arg(b->get(0), fn + "() width");
    if (!width.ok()) return Result<Value>(width.status());
    std::string fill = " ";
    if (!zfill && b->has(1)) {
      if (!b->get(1).is_string() || utf8_length(b->get(1).as_string()) != 1) {
        return Result<Value>(invalid_argument("The fill character must be exactly one character long"));
      }
      fill = b->get(1).as_string();
    }
    const int64_t len = utf8_length(s);
    if (*width <= len) return Result<Value>(Value(s));
    if (*width > (int64_t{1} << 24)) return Result<Value>(resource_exhausted(fn + "() width is too large"));
    std::string pad;
    for (int64_t i = len; i < *width; ++i) pad += zfill ? "0" : fill;
    if (zfill && !s.empty() && (s[0] == '+' || s[0] == '-')) return Result<Value>(Value(s.substr(0, 1) + pad + s.substr(1)));
    return Result<Value>(Value(name == "ljust" ? s + pad : pad + s));
  }
  if (name == "partition" || name == "rpartition") {
    auto b = BoundArgs::bind(a, fn, {"sep"}, 1);
    if (!b.ok()) return Result<Value>(b.status());
    if (!b->get(0).is_string()) {
      return Result<Value>(invalid_argument("must be str, not " + type_name(b->get(0))));
    }
    const std::string& sep = b->get(0).as_string();
    if (sep.empty()) return Result<Value>(invalid_argument("empty separator"));
    const size_t p = name == "partition" ? s.find(sep) : s.rfind(sep);
    Array parts;
    if (p == std::string::npos) {
      parts = name == "partition" ? Array{Value(s), Value(""), Value("")} : Array{Value(""), Value(""), Value(s)};
    } else {
      parts = {Value(s.substr(0, p)), Value(sep), Value(s.substr(p + sep.size()))};
    }
    return Result<Value>(Value::array(std::move(parts), ArrayKind::kTuple));
  }
  return std::nullopt;
}

}  // namespace podserve::jinja
