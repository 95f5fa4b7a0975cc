// Python's printf-style `str % args` for templates: conversions s r a d i u f F e E g G x X o c %, flags
// `-+ 0#`, width and precision (numbers or `*`), a tuple of arguments, one argument, or a dict with `%(key)s`.
#include <cmath>
#include <cstdio>
#include <string>

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

Status type_error(const std::string& m) { return invalid_argument("TypeError: " + m); }

Result<double> as_double(const Value& v, char conv) {
  if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
  if (v.is_int()) return static_cast<double>(v.as_int());
  if (v.is_float()) return v.as_float();
  return type_error(std::string("%") + conv + " format: a real number is required, not " + type_name(v));
}

Result<int64_t> as_integer(const Value& v, char conv) {
  if (v.is_bool()) return int64_t{v.as_bool()};
  if (v.is_int()) return v.as_int();
  if (v.is_float() && std::isfinite(v.as_float()) && std::fabs(v.as_float()) < 9.2e18) {
    return static_cast<int64_t>(v.as_float());  // Python truncates toward zero
  }
  return type_error(std::string("%") + conv + " format: a real number is required, not " + type_name(v));
}

std::string pad(std::string body, size_t width, bool left, bool zero, bool numeric) {
  const size_t len = static_cast<size_t>(utf8_length(body));
  if (len >= width) return body;
  const size_t fill = width - len;
  if (left) return body + std::string(fill, ' ');
  if (zero && numeric) {
    const size_t sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
    return body.substr(0, sign) + std::string(fill, '0') + body.substr(sign);
  }
  return std::string(fill, ' ') + body;
}

}  // namespace

Result<Value> percent_format(const std::string& fmt, const Value& args) {
  const bool is_tuple = args.is_array() && args.array_kind() == ArrayKind::kTuple;
  const Array single{args};
  const Array& list = is_tuple ? args.as_array() : single;
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) return invalid_argument("ValueError: incomplete format");
    const Value* value = nullptr;
    Value mapped;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) return invalid_argument("ValueError: incomplete format key");
      if (!args.is_dict()) return type_error("format requires a mapping");
      PODSERVE_ASSIGN_OR_RETURN(mapped, get_item(args, Value(fmt.substr(i + 1, close - i - 1))));
      if (mapped.is_undefined()) return invalid_argument("KeyError: '" + fmt.substr(i + 1, close - i - 1) + "'");
      value = &mapped;
      used_mapping = true;
      i = close + 1;
    }
    bool left = false, plus = false, space = false, zero = false, alt = false;
    for (; i < fmt.size() && std::string_view("-+ 0#").find(fmt[i]) != std::string_view::npos; ++i) {
      left |= fmt[i] == '-';
      plus |= fmt[i] == '+';
      space |= fmt[i] == ' ';
      zero |= fmt[i] == '0';
      alt |= fmt[i] == '#';
    }
    const auto number = [&](int64_t* n) -> Status {
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        if (next >= list.size() || !list[next].is_int()) return type_error("* wants int");
        *n = list[next++].as_int();
        return ok_status();
      }
      for (; i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9'; ++i) {
        *n = *n * 10 + (fmt[i] - '0');
        if (*n > 100000) return resource_exhausted("format width or precision too large");
      }
      return ok_status();
    };
    int64_t width = 0, precision = -1;
    PODSERVE_RETURN_IF_ERROR(number(&width));
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = 0;
      PODSERVE_RETURN_IF_ERROR(number(&precision));
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;  // ignored, as Python
    if (i >= fmt.size()) return invalid_argument("ValueError: incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (value == nullptr) {
      if (next >= list.size()) return type_error("not enough arguments for format string");
      value = &list[next++];
    }
    std::string body;
    bool numeric = true;
    char spec[32];
    switch (conv) {
      case 's': case 'r': case 'a':
        body = conv == 's' ? to_str(*value) : repr(*value);
        if (precision >= 0) body = utf8_encode(utf8_decode(body).substr(0, static_cast<size_t>(precision)));
        numeric = false;
        break;
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        PODSERVE_ASSIGN_OR_RETURN(int64_t n, as_integer(*value, conv));
        const char c = conv == 'x' || conv == 'X' || conv == 'o' ? conv : 'd';
        std::snprintf(spec, sizeof spec, "%%%s%s%s%s.%dll%c", plus ? "+" : "", space ? " " : "", alt ? "#" : "", "",
                      static_cast<int>(precision < 0 ? 1 : precision), c);
        if (c == 'd') {
          body.resize(64);
          body.resize(static_cast<size_t>(std::snprintf(body.data(), 64, spec, static_cast<long long>(n))));
        } else {  // Python prints the sign and magnitude of negative numbers in hex/octal
          const unsigned long long mag = n < 0 ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
          std::string digits(64, '\0');
          digits.resize(static_cast<size_t>(std::snprintf(digits.data(), 64, spec, mag)));
          if (alt && c == 'o') digits = "0o" + digits.substr(digits[0] == '0' && digits.size() > 1 ? 1 : 0);
          body = (n < 0 ? "-" : plus ? "+" : space ? " " : "") + digits;
        }
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        PODSERVE_ASSIGN_OR_RETURN(double d, as_double(*value, conv));
        std::snprintf(spec, sizeof spec, "%%%s%s%s.%d%c", plus ? "+" : "", space ? " " : "", alt ? "#" : "",
                      static_cast<int>(precision < 0 ? 6 : precision), conv);
        body.resize(static_cast<size_t>(precision < 0 ? 6 : precision) + 400);
        body.resize(static_cast<size_t>(std::snprintf(body.data(), body.size(), spec, d)));
        break;
      }
      case 'c':
        if (value->is_int() && value->as_int() >= 0 && value->as_int() <= 0x10FFFF) {
          utf8_append(&body, static_cast<char32_t>(value->as_int()));
        } else if (value->is_string() && utf8_length(value->as_string()) == 1) {
          body = value->as_string();
        } else {
          return type_error("%c requires an int or a unicode character");
        }
        numeric = false;
        break;
      default:
        return invalid_argument(std::string("ValueError: unsupported format character '") + conv + "'");
    }
    out += pad(std::move(body), static_cast<size_t>(width), left, zero, numeric);
  }
  if (!used_mapping && next < list.size() && !(args.is_dict() && !is_tuple)) {
    return type_error("not all arguments converted during string formatting");
  }
  return Value(std::move(out));
}

}  // namespace podserve::jinja
