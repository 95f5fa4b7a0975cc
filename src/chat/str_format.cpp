// Python's `str.format`: `{}` / `{0}` / `{name}` fields with `.attr` and `[key]` lookups (through the
// sandbox, as jinja2's SandboxedFormatter does), `!s` / `!r` / `!a` conversions and the format-spec
// mini-language ([[fill]align][sign][#][0][width][,|_][.precision][type]) for str, int, bool and float.
#include <cmath>
#include <cstdio>
#include <string>

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

Status value_error(const std::string& m) { return invalid_argument("ValueError: " + m); }

struct Spec {
  std::string fill = " ";
  char align = 0, sign = 0, type = 0, grouping = 0;
  bool alt = false, zero = false;
  int64_t width = -1, precision = -1;
};

Result<Spec> parse_spec(std::string_view s) {
  Spec spec;
  bool fill_given = false;
  const std::u32string cps = utf8_decode(s);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (cps.size() >= 2 && is_align(cps[1])) {
    spec.fill = utf8_encode(cps.substr(0, 1));
    fill_given = true;
    spec.align = static_cast<char>(cps[1]);
    i = 2;
  } else if (!cps.empty() && is_align(cps[0])) {
    spec.align = static_cast<char>(cps[0]);
    i = 1;
  }
  if (i < cps.size() && (cps[i] == '+' || cps[i] == '-' || cps[i] == ' ')) spec.sign = static_cast<char>(cps[i++]);
  if (i < cps.size() && cps[i] == '#') spec.alt = ++i > 0;
  if (i < cps.size() && cps[i] == '0') spec.zero = ++i > 0;
  auto number = [&](int64_t* n) -> Status {
    for (*n = 0; i < cps.size() && cps[i] >= '0' && cps[i] <= '9'; ++i) {
      *n = *n * 10 + static_cast<int64_t>(cps[i] - '0');
      if (*n > 100000) return resource_exhausted("format width or precision too large");
    }
    return ok_status();
  };
  if (i < cps.size() && cps[i] >= '0' && cps[i] <= '9') PODSERVE_RETURN_IF_ERROR(number(&spec.width));
  if (i < cps.size() && (cps[i] == ',' || cps[i] == '_')) spec.grouping = static_cast<char>(cps[i++]);
  if (i < cps.size() && cps[i] == '.') {
    ++i;
    if (i >= cps.size() || cps[i] < '0' || cps[i] > '9') return value_error("Format specifier missing precision");
    PODSERVE_RETURN_IF_ERROR(number(&spec.precision));
  }
  if (i < cps.size() && cps[i] < 0x80) spec.type = static_cast<char>(cps[i++]);
  if (i < cps.size()) return value_error("Invalid format specifier");
  // '0' pads with zeros unless a fill is given; numbers then align sign-aware ('=') unless an alignment is.
  if (spec.zero && !fill_given) spec.fill = "0";
  return spec;
}

std::string repeat(const std::string& s, int64_t n) {
  std::string out;
  for (int64_t k = 0; k < n; ++k) out += s;
  return out;
}

// Pads `sign` + `body` to the spec's width; '=' puts the padding between sign and digits.
std::string align(const Spec& spec, const std::string& sign, const std::string& body, char default_align) {
  const int64_t len = utf8_length(sign) + utf8_length(body);
  const int64_t fill = spec.width > len ? spec.width - len : 0;
  switch (spec.align ? spec.align : default_align) {
    case '<': return sign + body + repeat(spec.fill, fill);
    case '^': return repeat(spec.fill, fill / 2) + sign + body + repeat(spec.fill, fill - fill / 2);
    case '=': return sign + repeat(spec.fill, fill) + body;
    default: return repeat(spec.fill, fill) + sign + body;
  }
}

// Inserts the grouping character every three digits of the leading digit run of `digits`; with '0'
// padding, leading zeros are added first so that the grouped number fills `min_len`.
std::string group(std::string digits, char sep, int64_t min_len) {
  size_t int_len = 0;
  while (int_len < digits.size() && digits[int_len] >= '0' && digits[int_len] <= '9') ++int_len;
  const std::string rest = digits.substr(int_len);
  std::string head = digits.substr(0, int_len);
  auto grouped = [&](const std::string& h) {
    std::string out;
    for (size_t k = 0; k < h.size(); ++k) {
      if (k > 0 && (h.size() - k) % 3 == 0) out += sep;
      out += h[k];
    }
    return out;
  };
  std::string g = grouped(head);
  while (static_cast<int64_t>(g.size() + rest.size()) < min_len) g = grouped(head = "0" + head);
  return g + rest;
}

Result<std::string> format_number(const Value& v, Spec spec) {
  if (spec.zero && spec.align == 0) spec.align = '=';
  const bool is_int = v.is_int() || v.is_bool();
  const int64_t n = v.is_bool() ? int64_t{v.as_bool()} : v.is_int() ? v.as_int() : 0;
  const double d = is_int ? static_cast<double>(n) : v.as_float();
  char type = spec.type;
  if (type == 'n') type = is_int ? 'd' : 'g';
  const bool negative = is_int ? n < 0 : std::signbit(d) && !std::isnan(d);
  const std::string sign = negative ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
  std::string body;
  if (is_int && (type == 0 || type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c')) {
    if (spec.precision >= 0) return value_error("Precision not allowed in integer format specifier");
    const unsigned long long mag = n < 0 ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
    if (type == 'c') {
      if (n < 0 || n > 0x10FFFF) return invalid_argument("OverflowError: %c arg not in range(0x110000)");
      utf8_append(&body, static_cast<char32_t>(n));
      return align(spec, "", body, '<');
    }
    if (type == 'b') {
      for (unsigned long long m = mag; m > 0; m >>= 1) body.insert(body.begin(), static_cast<char>('0' + (m & 1)));
      if (body.empty()) body = "0";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, type == 'x' ? "%llx" : type == 'X' ? "%llX" : type == 'o' ? "%llo" : "%llu", mag);
      body = buf;
    }
    if (spec.grouping) body = group(body, spec.grouping, 0);
    if (spec.alt && type != 0 && type != 'd') body = std::string("0") + (type == 'X' ? 'X' : type) + body;
  } else if (type == 0 || type == 'e' || type == 'E' || type == 'f' || type == 'F' || type == 'g' || type == 'G' ||
             type == '%') {
    const double mag = std::fabs(d);
    if (type == 0 && spec.precision < 0) {
      body = format_float(mag);  // repr, as str(float)
    } else {
      const char c = type == 0 ? 'g' : type == '%' ? 'f' : type;
      const int prec = static_cast<int>(spec.precision < 0 ? 6 : spec.precision);
      const char fmt[] = {'%', '.', '*', c, '\0'};
      const char alt_fmt[] = {'%', '#', '.', '*', c, '\0'};
      std::string buf(static_cast<size_t>(prec) + 400, '\0');
      buf.resize(static_cast<size_t>(std::snprintf(buf.data(), buf.size(), spec.alt ? alt_fmt : fmt, prec,
                                                   type == '%' ? mag * 100 : mag)));
      body = buf;
      if (type == 0 && std::isfinite(mag) && body.find_first_of(".e") == std::string::npos) body += ".0";
      if (type == '%') body += '%';
    }
    if (!std::isfinite(mag)) body = std::isnan(mag) ? (type == 'E' || type == 'F' || type == 'G' ? "NAN" : "nan")
                                                    : (type == 'E' || type == 'F' || type == 'G' ? "INF" : "inf");
    if (spec.grouping && std::isfinite(mag)) {
      const int64_t min_len = spec.align == '=' && spec.fill == "0" ? spec.width - static_cast<int64_t>(sign.size()) : 0;
      return align(spec, sign, group(body, spec.grouping, min_len), '>');
    }
  } else {
    return value_error(std::string("Unknown format code '") + type + "' for object of type '" + type_name(v) + "'");
  }
  if (spec.grouping && spec.align == '=' && spec.fill == "0" && is_int) {
    std::string digits = body;
    return align(spec, sign, group(digits, spec.grouping, spec.width - static_cast<int64_t>(sign.size())), '>');
  }
  return align(spec, sign, body, '>');
}

// format(value, spec) as Python's __format__ methods do it.
Result<std::string> format_value(const Value& v, std::string_view spec_text) {
  if (v.is_bool() && spec_text.empty()) return to_str(v);
  if (v.is_int() || v.is_float() || v.is_bool()) {
    PODSERVE_ASSIGN_OR_RETURN(Spec spec, parse_spec(spec_text));
    return format_number(v, spec);
  }
  if (v.is_string()) {
    PODSERVE_ASSIGN_OR_RETURN(Spec spec, parse_spec(spec_text));
    if (spec.type != 0 && spec.type != 's') {
      return value_error(std::string("Unknown format code '") + spec.type + "' for object of type 'str'");
    }
    if (spec.sign) return value_error("Sign not allowed in string format specifier");
    if (spec.align == '=') return value_error("'=' alignment not allowed in string format specifier");
    if (spec.grouping) return value_error("Cannot specify ',' with 's'.");
    std::string body = v.as_string();
    if (spec.precision >= 0) body = utf8_encode(utf8_decode(body).substr(0, static_cast<size_t>(spec.precision)));
    return align(spec, "", body, '<');
  }
  if (!spec_text.empty()) {
    return invalid_argument("TypeError: unsupported format string passed to " + type_name(v) + ".__format__");
  }
  return to_str(v);
}

class Formatter {
 public:
  explicit Formatter(const CallArgs& a) : a_(a) {}

  Result<std::string> run(std::string_view fmt, int depth) {
    if (depth > 2) return value_error("Max string recursion exceeded");
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
      const char c = fmt[i];
      if (c == '}') {
        if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
          out += '}';
          ++i;
          continue;
        }
        return value_error("Single '}' encountered in format string");
      }
      if (c != '{') {
        out += c;
        continue;
      }
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      // The field runs to the matching '}' (nested braces only inside the spec).
      size_t j = i + 1;
      int nest = 1;
      for (; j < fmt.size(); ++j) {
        if (fmt[j] == '{') ++nest;
        if (fmt[j] == '}' && --nest == 0) break;
      }
      if (j >= fmt.size()) return value_error(nest > 1 ? "unmatched '{' in format spec" : "Single '{' encountered in format string");
      PODSERVE_ASSIGN_OR_RETURN(std::string text, field(fmt.substr(i + 1, j - i - 1), depth));
      out += text;
      i = j;
    }
    return out;
  }

 private:
  Result<std::string> field(std::string_view f, int depth) {
    size_t end = 0;
    while (end < f.size() && f[end] != '!' && f[end] != ':') {
      if (f[end] == '[') {
        while (end < f.size() && f[end] != ']') ++end;
        if (end == f.size()) return value_error("expected '}' before end of string");
      }
      ++end;
    }
    const std::string_view name = f.substr(0, end);
    char conversion = 0;
    std::string_view spec;
    if (end < f.size() && f[end] == '!') {
      if (end + 1 >= f.size()) return value_error("end of string while looking for conversion specifier");
      conversion = f[end + 1];
      if (end + 2 < f.size() && f[end + 2] != ':') return value_error("expected ':' after conversion specifier");
      end += 2;
    }
    if (end < f.size() && f[end] == ':') spec = f.substr(end + 1);
    PODSERVE_ASSIGN_OR_RETURN(Value v, lookup(name));
    if (conversion == 's') {
      v = Value(to_str(v));
    } else if (conversion == 'r' || conversion == 'a') {
      v = Value(repr(v));
    } else if (conversion != 0) {
      return value_error(std::string("Unknown conversion specifier ") + conversion);
    }
    std::string spec_text(spec);
    if (spec_text.find('{') != std::string::npos) {
      PODSERVE_ASSIGN_OR_RETURN(spec_text, run(spec, depth + 1));
    }
    return format_value(v, spec_text);
  }

  Result<Value> lookup(std::string_view name) {
    size_t first_end = 0;
    while (first_end < name.size() && name[first_end] != '.' && name[first_end] != '[') ++first_end;
    const std::string_view first = name.substr(0, first_end);
    Value v;
    const bool digits = !first.empty() && first.size() < 10 &&
                        first.find_first_not_of("0123456789") == std::string_view::npos;
    if (first.empty() || digits) {
      size_t index = 0;
      if (first.empty()) {
        if (manual_) return value_error("cannot switch from manual field specification to automatic field numbering");
        automatic_ = true;
        index = next_++;
      } else {
        if (automatic_) return value_error("cannot switch from automatic field numbering to manual field specification");
        manual_ = true;
        index = std::stoul(std::string(first));
      }
      if (index >= a_.args.size()) {
        return invalid_argument("IndexError: Replacement index " + std::to_string(index) +
                                " out of range for positional args tuple");
      }
      v = a_.args[index];
    } else {
      const auto* kw = [&]() -> const Value* {
        for (const auto& [k, val] : a_.kwargs) {
          if (k == first) return &val;
        }
        return nullptr;
      }();
      if (kw == nullptr) return invalid_argument("KeyError: '" + std::string(first) + "'");
      v = *kw;
    }
    for (size_t i = first_end; i < name.size();) {
      if (name[i] == '.') {
        size_t e = i + 1;
        while (e < name.size() && name[e] != '.' && name[e] != '[') ++e;
        if (e == i + 1) return value_error("Empty attribute in format string");
        PODSERVE_ASSIGN_OR_RETURN(v, get_attr(v, name.substr(i + 1, e - i - 1)));
        i = e;
      } else if (name[i] == '[') {
        const size_t close = name.find(']', i);
        const std::string_view key = name.substr(i + 1, close - i - 1);
        if (key.empty()) return value_error("Empty attribute in format string");
        const bool int_key = key.size() < 18 && key.find_first_not_of("0123456789") == std::string_view::npos;
        PODSERVE_ASSIGN_OR_RETURN(v, get_item(v, int_key ? Value(static_cast<int64_t>(std::stoll(std::string(key)))) : Value(key)));
        i = close + 1;
        if (i < name.size() && name[i] != '.' && name[i] != '[') return value_error("Only '.' or '[' may follow ']' in format field specifier");
      } else {
        return value_error("Only '.' or '[' may follow ']' in format field specifier");
      }
    }
    return v;
  }

  const CallArgs& a_;
  size_t next_ = 0;
  bool automatic_ = false, manual_ = false;
};

}  // namespace

Result<Value> str_format(const std::string& fmt, const CallArgs& args) {
  Formatter f(args);
  PODSERVE_ASSIGN_OR_RETURN(std::string out, f.run(fmt, 0));
  return Value(std::move(out));
}

}  // namespace podserve::jinja
