#include "serve/openai/tools/py_calls.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/utf8.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

/// One parsed expression, reduced to what vLLM's walk asks of it.
struct Expr {
  std::optional<json::value> literal;  // get_parameter_value's result; nullopt where it raises
  bool constant = false;               // an ast.Constant (dict keys must be)
  bool numeric = false;                // a non-bool int or float constant (unary +/- accept it)
  std::optional<std::string> key;      // json.dumps' text of a constant used as a dict key (nullopt: TypeError)
  std::optional<std::string> dotted;   // a Name or a chain of Attributes on one
  bool is_call = false;
  PyCall call;
  bool is_list = false;
  bool all_calls = false;
  std::vector<PyCall> calls;
};

bool is_ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
bool is_ident_char(unsigned char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr std::string_view kKeywords[] = {"and",   "as",     "assert", "async",  "await",    "break",  "class",
                                          "continue", "def", "del",    "elif",   "else",     "except", "finally",
                                          "for",   "from",   "global", "if",     "import",   "in",     "is",
                                          "lambda", "nonlocal", "not", "or",     "pass",     "raise",  "return",
                                          "try",   "while",  "with",   "yield"};

bool is_keyword(std::string_view w) {
  for (std::string_view k : kKeywords) {
    if (k == w) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  PyModule module() {
    PyModule m;
    std::optional<Expr> e = expr();
    if (!e || failed_) return m;
    skip_line_space();
    if (peek() == ';') {
      ++pos_;
      skip_line_space();
    }
    if (peek() == '\n' || peek() == '\r') skip_space();
    if (pos_ != s_.size()) return m;  // further statements: outside the slice
    m.syntax_ok = true;
    m.has_set = has_set_;
    m.is_call_list = e->is_list && e->all_calls;
    m.calls = std::move(e->calls);
    return m;
  }

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  std::nullopt_t fail() {
    failed_ = true;
    return std::nullopt;
  }

  /// Spaces, tabs, form feeds, comments and line continuations (outside brackets a newline ends a statement).
  void skip_line_space() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\f') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else if (c == '\\' && (peek(1) == '\n' || peek(1) == '\r')) {
        pos_ += (peek(1) == '\r' && peek(2) == '\n') ? 3 : 2;
      } else {
        break;
      }
    }
  }
  /// Inside brackets newlines are whitespace too.
  void skip_space() {
    for (;;) {
      skip_line_space();
      if (peek() == '\n' || peek() == '\r') {
        ++pos_;
      } else {
        return;
      }
    }
  }

  std::optional<Expr> expr() {
    if (++depth_ > 1000) return fail();  // Python's parser gives up on deep expressions too
    std::optional<Expr> e = unary();
    --depth_;
    return e;
  }

  /// After an item: a comma (consumed) or the closing bracket (left for the loop); false for anything else.
  bool separator(char close, bool* comma = nullptr) {
    skip_space();
    if (peek() == ',') {
      ++pos_;
      if (comma != nullptr) *comma = true;
      return true;
    }
    return peek() == close;
  }

  /// An opening bracket: Python's tokenizer refuses the 201st nested one ("too many nested parentheses").
  bool open_bracket() {
    ++pos_;
    return ++level_ <= 200;
  }

  std::optional<Expr> unary() {
    skip_space();
    const char c = peek();
    if (c == '-' || c == '+') {
      ++pos_;
      std::optional<Expr> operand = expr();
      if (!operand) return std::nullopt;
      Expr r;
      if (operand->numeric && operand->literal) {
        json::value v = *operand->literal;
        if (c == '-') {
          if (v.is_int64()) {
            if (v.get_int64() == std::numeric_limits<int64_t>::min()) return fail();
            v = -v.get_int64();
          } else if (v.is_uint64()) {
            if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) return fail();
            v = static_cast<int64_t>(0 - v.get_uint64());
          } else {
            v = -v.get_double();
          }
        }
        r.literal = std::move(v);
        r.numeric = true;
      }
      return r;
    }
    return primary();
  }

  std::optional<Expr> primary() {
    std::optional<Expr> e = atom();
    if (!e) return std::nullopt;
    for (;;) {
      skip_space_if_bracketed();
      if (peek() == '.' && !is_digit(peek(1))) {
        ++pos_;
        skip_space_if_bracketed();
        std::optional<std::string> attr = identifier();
        if (!attr || is_keyword(*attr) || *attr == "True" || *attr == "False" || *attr == "None") return fail();
        Expr r;
        if (e->dotted) r.dotted = *e->dotted + "." + *attr;
        e = std::move(r);
      } else if (peek() == '(') {
        if (!open_bracket()) return fail();
        std::optional<Expr> call = arguments(e->dotted);
        if (!call) return std::nullopt;
        e = std::move(call);
      } else {
        return e;
      }
    }
  }

  /// Trailers may follow after whitespace only inside brackets; at the top level the list ends the statement.
  void skip_space_if_bracketed() {
    if (level_ > 0) skip_space();
  }

  /// `(` already read: positional arguments (parsed, ignored as vLLM ignores them), then keywords.
  std::optional<Expr> arguments(const std::optional<std::string>& func) {
    Expr r;
    r.is_call = true;
    json::object kwargs;
    bool values_ok = true;
    bool seen_keyword = false;
    for (;;) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      const size_t save = pos_;
      std::optional<std::string> name = identifier();
      skip_space();
      if (name && peek() == '=' && peek(1) != '=') {
        if (is_keyword(*name) || *name == "True" || *name == "False" || *name == "None") return fail();
        ++pos_;
        std::optional<Expr> v = expr();
        if (!v) return std::nullopt;
        if (v->literal) {
          kwargs[*name] = std::move(*v->literal);
        } else {
          values_ok = false;
          kwargs[*name] = nullptr;
        }
        seen_keyword = true;
      } else {
        pos_ = save;
        if (seen_keyword) return fail();  // positional argument follows keyword argument
        if (!expr()) return std::nullopt;
      }
      if (!separator(')')) return fail();
    }
    --level_;
    r.call.name = func.value_or("");
    r.call.arguments_ok = values_ok && func.has_value();
    if (r.call.arguments_ok) r.call.arguments = json_dumps(json::value(std::move(kwargs)), false);
    return r;
  }

  std::optional<std::string> identifier() {
    if (!is_ident_start(static_cast<unsigned char>(peek()))) return std::nullopt;
    const size_t start = pos_;
    while (pos_ < s_.size() && is_ident_char(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  std::optional<Expr> atom() {
    skip_space();
    const char c = peek();
    if (c == '[') return sequence(']');
    if (c == '(') return sequence(')');
    if (c == '{') return braces();
    if (c == '"' || c == '\'') return strings();
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number();
    if (!is_ident_start(static_cast<unsigned char>(c))) return fail();
    // A string prefix?
    size_t n = 0;
    while (n < 3 && std::string_view("rRuUbBfF").find(peek(n)) != std::string_view::npos && peek(n) != '\0') ++n;
    if (n > 0 && n <= 2 && (peek(n) == '"' || peek(n) == '\'')) return strings();
    std::optional<std::string> word = identifier();
    Expr r;
    if (*word == "True" || *word == "False") {
      r.literal = json::value(*word == "True");
      r.constant = true;
      r.key = *word == "True" ? "true" : "false";
      return r;
    }
    if (*word == "None") {
      r.literal = json::value(nullptr);
      r.constant = true;
      r.key = "null";
      return r;
    }
    if (is_keyword(*word)) return fail();
    if (*word == "true" || *word == "false") r.literal = json::value(*word == "true");
    if (*word == "null") r.literal = json::value(nullptr);
    r.dotted = *word;
    return r;
  }

  /// [a, b] or (a, b) / (a) / (): lists, tuples (both JSON lists) and parentheses.
  std::optional<Expr> sequence(char close) {
    if (!open_bracket()) return fail();
    Expr r;
    json::array items;
    bool items_ok = true;
    bool all_calls = true;
    bool comma = false;
    std::optional<Expr> only;
    size_t count = 0;
    for (;;) {
      skip_space();
      if (peek() == close) {
        ++pos_;
        break;
      }
      std::optional<Expr> e = expr();
      if (!e) return std::nullopt;
      ++count;
      if (e->literal) {
        items.push_back(*e->literal);
      } else {
        items_ok = false;
      }
      if (e->is_call) {
        r.calls.push_back(e->call);
      } else {
        all_calls = false;
      }
      if (count == 1) only = std::move(e);
      if (!separator(close, &comma)) return fail();
    }
    --level_;
    if (close == ')' && count == 1 && !comma) return only;  // parentheses
    if (items_ok) r.literal = json::value(std::move(items));
    r.is_list = close == ']';
    r.all_calls = all_calls;
    return r;
  }

  /// {k: v, ...} or {a, b}.
  std::optional<Expr> braces() {
    if (!open_bracket()) return fail();
    Expr r;
    json::object obj;
    json::array items;
    bool ok = true;
    int kind = 0;  // 0 unknown, 1 dict, 2 set
    for (;;) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      std::optional<Expr> k = expr();
      if (!k) return std::nullopt;
      skip_space();
      if (kind == 0) kind = peek() == ':' ? 1 : 2;
      if (kind == 1) {
        if (peek() != ':') return fail();
        ++pos_;
        std::optional<Expr> v = expr();
        if (!v) return std::nullopt;
        if (!k->constant || !k->key || !v->literal) {
          ok = false;
        } else {
          obj[*k->key] = std::move(*v->literal);
        }
      } else if (k->literal) {
        items.push_back(std::move(*k->literal));
      } else {
        ok = false;
      }
      if (!separator('}')) return fail();
    }
    --level_;
    if (kind == 2) has_set_ = true;
    if (ok) r.literal = kind == 2 ? json::value(std::move(items)) : json::value(std::move(obj));
    return r;
  }

  /// Adjacent string literals, concatenated. Bytes are constants vLLM rejects; f-strings with placeholders are
  /// outside the slice.
  std::optional<Expr> strings() {
    std::string value;
    bool bytes = false;
    bool text = false;
    bool fstring = false;
    for (;;) {
      size_t n = 0;
      bool raw = false;
      bool b = false;
      bool f = false;
      while (std::string_view("rRuUbBfF").find(peek(n)) != std::string_view::npos && peek(n) != '\0') {
        const char p = static_cast<char>(peek(n) | 0x20);
        raw |= p == 'r';
        b |= p == 'b';
        f |= p == 'f';
        ++n;
      }
      if (n > 2 || (peek(n) != '"' && peek(n) != '\'')) break;
      pos_ += n;
      if (!literal(raw, f, &value)) return fail();
      (b ? bytes : text) = true;
      fstring |= f;
      const size_t save = pos_;
      skip_space_if_bracketed();
      if (peek() != '"' && peek() != '\'' && !std::isalpha(static_cast<unsigned char>(peek()))) {
        pos_ = save;
        break;
      }
      if (std::isalpha(static_cast<unsigned char>(peek()))) {
        size_t m = 0;
        while (std::string_view("rRuUbBfF").find(peek(m)) != std::string_view::npos && peek(m) != '\0') ++m;
        if (m == 0 || m > 2 || (peek(m) != '"' && peek(m) != '\'')) {
          pos_ = save;
          break;
        }
      }
    }
    if (bytes && text) return fail();  // cannot mix bytes and nonbytes literals
    Expr r;
    if (!bytes) {
      r.literal = json::value(value);
      r.constant = !fstring;
      if (r.constant) r.key = value;
    } else {
      r.constant = true;  // a bytes constant: get_parameter_value and json.dumps both reject it
    }
    return r;
  }

  /// One quoted literal at pos_ (the prefix read); appends its value.
  bool literal(bool raw, bool f, std::string* out) {
    const char q = peek();
    const bool triple = peek(1) == q && peek(2) == q;
    pos_ += triple ? 3 : 1;
    std::string body;
    for (;;) {
      if (pos_ >= s_.size()) return false;  // unterminated
      const char c = s_[pos_];
      if (c == q && (!triple || (peek(1) == q && peek(2) == q))) {
        pos_ += triple ? 3 : 1;
        break;
      }
      if ((c == '\n' || c == '\r') && !triple) return false;
      if (c == '\\') {
        if (pos_ + 1 >= s_.size()) return false;
        if (raw) {
          body += c;
          body += s_[pos_ + 1];
          pos_ += 2;
          continue;
        }
        if (!escape(&body)) return false;
        continue;
      }
      body += c;
      ++pos_;
    }
    if (f) {  // only literal braces ({{ and }}) are inside the slice
      std::string plain;
      for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '{' || body[i] == '}') {
          if (i + 1 < body.size() && body[i + 1] == body[i]) {
            plain += body[i++];
            continue;
          }
          return false;
        }
        plain += body[i];
      }
      body = std::move(plain);
    }
    *out += body;
    return true;
  }

  /// A backslash escape of a non-raw literal at pos_.
  bool escape(std::string* out) {
    const char e = s_[pos_ + 1];
    pos_ += 2;
    auto hex = [&](int digits) -> std::optional<uint32_t> {
      uint32_t v = 0;
      for (int i = 0; i < digits; ++i) {
        const char h = peek();
        int d = -1;
        if (h >= '0' && h <= '9') d = h - '0';
        if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
        if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<uint32_t>(d);
        ++pos_;
      }
      return v;
    };
    switch (e) {
      case '\n': return true;
      case '\r':
        if (peek() == '\n') ++pos_;
        return true;
      case '\\': *out += '\\'; return true;
      case '\'': *out += '\''; return true;
      case '"': *out += '"'; return true;
      case 'a': *out += '\a'; return true;
      case 'b': *out += '\b'; return true;
      case 'f': *out += '\f'; return true;
      case 'n': *out += '\n'; return true;
      case 'r': *out += '\r'; return true;
      case 't': *out += '\t'; return true;
      case 'v': *out += '\v'; return true;
      case 'x':
      case 'u':
      case 'U': {
        std::optional<uint32_t> cp = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
        if (!cp || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return false;  // surrogates: not UTF-8
        utf8_append_codepoint(*cp, out);
        return true;
      }
      case 'N': return false;  // named escapes: outside the slice
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int i = 0; i < 2 && peek() >= '0' && peek() <= '7'; ++i) v = v * 8 + static_cast<uint32_t>(s_[pos_++] - '0');
          utf8_append_codepoint(v, out);
          return true;
        }
        *out += '\\';  // unknown escapes stay as written
        *out += e;
        return true;
    }
  }

  /// Digits with single underscores between them (at least one digit).
  bool digits(std::string* out, bool (*ok)(char), bool leading_underscore = false) {
    bool any = false;
    bool prev_underscore = !leading_underscore;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '_') {
        if (prev_underscore) return false;
        prev_underscore = true;
        ++pos_;
        continue;
      }
      if (!ok(c)) break;
      *out += c;
      any = true;
      prev_underscore = false;
      ++pos_;
    }
    return any && !prev_underscore;
  }

  std::optional<Expr> number() {
    Expr r;
    const char c0 = peek();
    const char base = static_cast<char>(peek(1) | 0x20);
    if (c0 == '0' && (base == 'x' || base == 'o' || base == 'b')) {
      pos_ += 2;
      std::string d;
      bool (*ok)(char) = base == 'x'   ? +[](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
                         : base == 'o' ? +[](char c) { return c >= '0' && c <= '7'; }
                                       : +[](char c) { return c == '0' || c == '1'; };
      if (!digits(&d, ok, true) || is_ident_char(static_cast<unsigned char>(peek()))) return fail();
      errno = 0;
      const unsigned long long v = std::strtoull(d.c_str(), nullptr, base == 'x' ? 16 : base == 'o' ? 8 : 2);
      if (errno == ERANGE) return fail();  // beyond 64 bits: outside the slice
      r.literal = v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())
                      ? json::value(static_cast<uint64_t>(v))
                      : json::value(static_cast<int64_t>(v));
    } else {
      std::string d;
      bool is_float = false;
      if (c0 != '.' && !digits(&d, +[](char c) { return is_digit(c); })) return fail();
      if (peek() == '.') {
        is_float = true;
        d += '.';
        ++pos_;
        if (is_digit(peek()) && !digits(&d, +[](char c) { return is_digit(c); })) return fail();
      }
      if ((peek() | 0x20) == 'e' && (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
        is_float = true;
        d += 'e';
        ++pos_;
        if (peek() == '+' || peek() == '-') d += s_[pos_++];
        if (!digits(&d, +[](char c) { return is_digit(c); })) return fail();
      }
      if ((peek() | 0x20) == 'j') {  // complex: a constant vLLM's converter rejects
        ++pos_;
        if (is_ident_char(static_cast<unsigned char>(peek()))) return fail();
        r.constant = true;
        return r;
      }
      if (is_ident_char(static_cast<unsigned char>(peek()))) return fail();
      if (is_float) {
        r.literal = json::value(std::strtod(d.c_str(), nullptr));
      } else {
        if (d.size() > 1 && d[0] == '0' && d.find_first_not_of('0') != std::string::npos) return fail();
        errno = 0;
        const unsigned long long v = std::strtoull(d.c_str(), nullptr, 10);
        if (errno == ERANGE) return fail();
        r.literal = v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())
                        ? json::value(static_cast<uint64_t>(v))
                        : json::value(static_cast<int64_t>(v));
      }
    }
    r.constant = true;
    r.numeric = true;
    // Keys: str(int), float.__repr__ (json.dumps' own spelling, Infinity included).
    r.key = json_dumps(*r.literal, false);
    return r;
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;  // expression recursion
  int level_ = 0;  // open brackets
  bool failed_ = false;
  bool has_set_ = false;
};

}  // namespace

PyModule parse_py_calls(std::string_view text) { return Parser(text).module(); }

}  // namespace podserve::openai
