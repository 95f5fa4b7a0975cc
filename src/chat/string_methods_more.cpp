// The rarer str methods: ljust, rjust, zfill, center, partition, rpartition, casefold, swapcase,
// removeprefix, removesuffix, index, rindex, isdecimal, isnumeric, expandtabs (access.cpp has the common ones).
#include <algorithm>
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
  if (name == "casefold") return Result<Value>(Value(py_replace(py_lower(s), "\xC3\x9F", "ss", -1)));  // ß -> ss
  if (name == "swapcase") {
    std::string out;
    for (char32_t c : utf8_decode(s)) {
      const std::string ch = utf8_encode(std::u32string(1, c));
      const std::string lower = py_lower(ch);
      out += lower != ch ? lower : py_upper(ch);
    }
    return Result<Value>(Value(std::move(out)));
  }
  if (name == "isdecimal" || name == "isnumeric") {  // ASCII digits, as isdigit here
    const bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    return Result<Value>(Value(digits));
  }
  if (name == "removeprefix" || name == "removesuffix" || name == "index" || name == "rindex") {
    auto b = BoundArgs::bind(a, fn, {name.starts_with("remove") ? "prefix" : "sub"}, 1);
    if (!b.ok()) return Result<Value>(b.status());
    if (!b->get(0).is_string()) return Result<Value>(invalid_argument("must be str, not " + type_name(b->get(0))));
    const std::string& x = b->get(0).as_string();
    if (name == "removeprefix") return Result<Value>(Value(s.starts_with(x) ? s.substr(x.size()) : s));
    if (name == "removesuffix") return Result<Value>(Value(s.ends_with(x) && !x.empty() ? s.substr(0, s.size() - x.size()) : s));
    const size_t p = name == "index" ? s.find(x) : s.rfind(x);
    if (p == std::string::npos) return Result<Value>(invalid_argument("substring not found"));
    return Result<Value>(Value(utf8_length(std::string_view(s).substr(0, p))));
  }
  if (name == "expandtabs") {
    auto b = BoundArgs::bind(a, fn, {"tabsize"});
    if (!b.ok()) return Result<Value>(b.status());
    int64_t tab = 8;
    if (b->has(0)) {
      auto t = int_arg(b->get(0), fn + "() tabsize");
      if (!t.ok()) return Result<Value>(t.status());
      tab = std::min<int64_t>(*t, 1 << 16);
    }
    std::u32string out;
    int64_t column = 0;
    for (char32_t c : utf8_decode(s)) {
      if (c == '\t') {
        const int64_t n = tab > 0 ? tab - column % tab : 0;
        out.append(static_cast<size_t>(n), U' ');
        column += n;
      } else {
        out += c;
        column = c == '\n' || c == '\r' ? 0 : column + 1;
      }
      if (out.size() > (size_t{1} << 24)) return Result<Value>(resource_exhausted(fn + "() result is too large"));
    }
    return Result<Value>(Value(utf8_encode(out)));
  }
  if (name == "ljust" || name == "rjust" || name == "zfill" || name == "center") {
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
    if (name == "center") {  // CPython: left = marg / 2 + (marg & width & 1)
      const int64_t marg = *width - len, left = marg / 2 + (marg & *width & 1);
      std::string l;
      for (int64_t i = 0; i < left; ++i) l += fill;
      return Result<Value>(Value(l + s + pad.substr(0, pad.size() - l.size())));
    }
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
