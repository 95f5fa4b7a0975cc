// More jinja2 filters: format, slice, filesizeformat, xmlattr, forceescape, striptags.
#include <cmath>
#include <cstdio>
#include <string_view>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

// markupsafe.escape(str(v)).
std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// `value|format(*args)` / `value|format(**kwargs)`: Python's `str(value) % args`.
Result<Value> f_format(Evaluator&, const Value& v, const CallArgs& a) {
  if (!a.args.empty() && !a.kwargs.empty()) {
    return invalid_argument("can't handle positional and keyword arguments at the same time");
  }
  if (!a.kwargs.empty()) {
    auto obj = std::make_shared<Object>();
    for (const auto& [k, item] : a.kwargs) obj->set(k, item);
    return percent_format(to_str(v), Value::object(std::move(obj)));
  }
  return percent_format(to_str(v), Value::array(a.args, ArrayKind::kTuple));
}

// jinja2's do_slice: `slices` columns, the first `len % slices` one item longer, optionally padded.
Result<Value> f_slice(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "slice", {"slices", "fill_with"}, 1));
  PODSERVE_ASSIGN_OR_RETURN(int64_t slices, int_arg(b.get(0), "slice() slices"));
  if (slices == 0) return invalid_argument("integer division or modulo by zero");
  PODSERVE_ASSIGN_OR_RETURN(Array seq, iterate(v));
  const bool fill = b.has(1) && !b.get(1).is_none();
  const auto length = static_cast<int64_t>(seq.size());
  if (slices < 0 || slices > (int64_t{1} << 20)) return invalid_argument("slice() slices out of range");
  const int64_t per = length / slices, extra = length % slices;
  Array out;
  int64_t offset = 0;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    Array part(seq.begin() + start, seq.begin() + end);
    if (fill && n >= extra) part.push_back(b.get(1));
    out.push_back(Value::array(std::move(part)));
  }
  return Value::array(std::move(out), ArrayKind::kIterator);
}

Result<Value> f_filesizeformat(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "filesizeformat", {"binary"}));
  double bytes = 0;
  if (v.is_number() || v.is_bool()) {
    bytes = v.to_double();
  } else if (v.is_string()) {
    const std::string s = py_strip(v.as_string(), std::nullopt, true, true);
    char* end = nullptr;
    bytes = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') return invalid_argument("could not convert string to float: " + repr(v));
  } else {
    return invalid_argument("float() argument must be a string or a real number, not '" + type_name(v) + "'");
  }
  const bool binary = b.has(0) && truthy(b.get(0));
  const double base = binary ? 1024 : 1000;
  static const char* const kDecimal[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* const kBinary[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  if (bytes == 1) return Value("1 Byte");
  if (bytes < base) return Value(std::to_string(static_cast<int64_t>(bytes)) + " Bytes");
  double unit = base;
  const char* prefix = "";
  for (int i = 0; i < 8; ++i) {
    unit = std::pow(base, i + 2);
    prefix = binary ? kBinary[i] : kDecimal[i];
    if (bytes < unit) break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, prefix);
  return Value(std::string(buf));
}

Result<Value> f_xmlattr(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "xmlattr", {"autospace"}));
  if (!v.is_dict()) return invalid_argument("xmlattr: expected a dict, got '" + type_name(v) + "'");
  std::string out;
  for (const auto& [stored, item] : v.as_object().entries) {
    if (item.is_none() || item.is_undefined()) continue;
    const std::string key = to_str(dict_key_value(stored));
    if (key.find_first_of(" \t\n\r\f\v/>=") != std::string::npos) {
      return invalid_argument("Invalid character in attribute name: " + repr(dict_key_value(stored)));
    }
    if (!out.empty()) out += ' ';
    out += html_escape(key) + "=\"" + html_escape(to_str(item)) + "\"";
  }
  if ((!b.has(0) || truthy(b.get(0))) && !out.empty()) out = " " + out;
  return Value(std::move(out));
}

Result<Value> f_forceescape(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "forceescape", {}).status());
  return Value(html_escape(to_str(v)));
}

// markupsafe's Markup.striptags: comments, then tags, removed; whitespace runs collapsed; entities
// unescaped (the five escape() makes and numeric ones; other named entities are kept as written).
Result<Value> f_striptags(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "striptags", {}).status());
  std::string s = to_str(v);
  for (const auto& [open, close] : {std::pair<std::string_view, std::string_view>{"<!--", "-->"}, {"<", ">"}}) {
    for (size_t start; (start = s.find(open)) != std::string::npos;) {
      const size_t end = s.find(close, start);
      if (end == std::string::npos) break;
      s.erase(start, end + close.size() - start);
    }
  }
  std::string collapsed;
  for (const std::string& word : py_split(s, std::nullopt, -1)) collapsed += (collapsed.empty() ? "" : " ") + word;
  std::string out;
  for (size_t i = 0; i < collapsed.size(); ++i) {
    if (collapsed[i] == '&') {
      const size_t semi = collapsed.find(';', i);
      const std::string_view name = semi == std::string::npos ? "" : std::string_view(collapsed).substr(i + 1, semi - i - 1);
      static const std::pair<std::string_view, std::string_view> kNamed[] = {
          {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
      bool done = false;
      for (const auto& [n, text] : kNamed) {
        if (name == n) {
          out += text;
          done = true;
        }
      }
      if (!done && name.size() > 1 && name.size() < 10 && name[0] == '#') {
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string digits(name.substr(hex ? 2 : 1));
        char* end = nullptr;
        const long cp = std::strtol(digits.c_str(), &end, hex ? 16 : 10);
        if (!digits.empty() && *end == '\0' && cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
          utf8_append(&out, static_cast<char32_t>(cp));
          done = true;
        }
      }
      if (done) {
        i = semi;
        continue;
      }
    }
    out += collapsed[i];
  }
  return Value(std::move(out));
}

}  // namespace

FilterFn find_misc_filter(std::string_view name) {
  static constexpr std::pair<std::string_view, FilterFn> kFilters[] = {
      {"filesizeformat", f_filesizeformat}, {"forceescape", f_forceescape}, {"format", f_format},
      {"slice", f_slice},                   {"striptags", f_striptags},     {"xmlattr", f_xmlattr},
  };
  for (const auto& [n, fn] : kFilters) {
    if (n == name) return fn;
  }
  return nullptr;
}

}  // namespace podserve::jinja
