#include "chat/lexer.h"

#include <algorithm>
#include <charconv>

#include "chat/py_string.h"

namespace podserve::jinja {

std::string loc_string(Loc loc) {
  return "line " + std::to_string(loc.line) + ", column " + std::to_string(loc.col);
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal body (what jinja2 applies to literals).
Result<std::string> decode_escapes(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': case 'u': case 'U': {
        const size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        char32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) {
          const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0) return invalid_argument(std::string("truncated \\") + e + " escape in string literal");
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        if (cp > 0x10FFFF) return invalid_argument("illegal Unicode character in string literal");
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogates cannot be UTF-8
        utf8_append(&out, cp);
        i += n;
        break;
      }
      case 'N': return invalid_argument("\\N{...} escapes are not supported");
      default:
        if (e >= '0' && e <= '7') {
          char32_t cp = e - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
            cp = cp * 8 + static_cast<char32_t>(body[++i] - '0');
          }
          utf8_append(&out, cp);
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> run();

 private:
  Loc loc_at(size_t pos) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(pos - line_starts_[line - 1] + 1)};
  }
  Status error_at(size_t pos, const std::string& msg) const {
    return invalid_argument("template syntax error at " + loc_string(loc_at(pos)) + ": " + msg);
  }
  void emit(TokenType type, std::string text, size_t pos) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.loc = loc_at(pos);
    out_.push_back(std::move(t));
  }
  // Applies `{%-` / lstrip_blocks to the text before a tag and emits it.
  void emit_text(std::string text, size_t text_pos, char tag_kind, char sign);
  // Consumes what follows a closing delimiter: all whitespace after a '-', one newline after a block or
  // comment end (trim_blocks) unless '+'. Updates line_starting_.
  void after_close(size_t* pos, bool minus, bool plus, bool is_block);
  Status lex_tag(size_t* pos, bool is_block, size_t tag_pos);
  Status lex_raw(size_t* pos, size_t body_start);

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> out_;
  bool line_starting_ = true;
};

void Lexer::emit_text(std::string text, size_t text_pos, char tag_kind, char sign) {
  if (sign == '-') {
    text = py_strip(text, std::nullopt, false, true);
  } else if (sign != '+' && tag_kind != '{') {
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos > 0 || line_starting_) {
      const bool blank = std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l_pos), text.end(),
                                     [](char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; });
      if (blank) text.resize(l_pos);
    }
  }
  if (!text.empty()) emit(TokenType::kText, std::move(text), text_pos);
}

void Lexer::after_close(size_t* pos, bool minus, bool plus, bool is_block) {
  const size_t start = *pos;
  if (minus) {
    *pos += py_space_prefix(std::string_view(src_).substr(*pos));  // Python's \s: Unicode spaces too
  } else if (is_block && !plus && *pos < src_.size() && src_[*pos] == '\n') {
    ++*pos;
  }
  line_starting_ = *pos > start && src_[*pos - 1] == '\n';
}

Status Lexer::lex_raw(size_t* pos, size_t body_start) {
  size_t search = body_start;
  while (true) {
    const size_t open = src_.find("{%", search);
    if (open == std::string::npos) return error_at(body_start, "missing end of raw directive");
    size_t p = open + 2;
    const char sign = p < src_.size() ? src_[p] : '\0';
    if (sign == '-' || sign == '+') ++p;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 6, "endraw") != 0) {
      search = open + 2;
      continue;
    }
    p += 6;
    while (p < src_.size() && is_space(src_[p])) ++p;
    const bool minus = src_.compare(p, 3, "-%}") == 0, plus = src_.compare(p, 3, "+%}") == 0;
    if (!minus && !plus && src_.compare(p, 2, "%}") != 0) {
      search = open + 2;
      continue;
    }
    emit_text(src_.substr(body_start, open - body_start), body_start, '%', sign);
    *pos = p + (minus || plus ? 3 : 2);
    after_close(pos, minus, plus, true);
    return ok_status();
  }
}

Status Lexer::lex_tag(size_t* pos, bool is_block, size_t tag_pos) {
  const std::string_view end = is_block ? "%}" : "}}";
  std::vector<char> brackets;
  size_t p = *pos;
  bool first_token = true;
  while (true) {
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (p >= src_.size()) {
      return error_at(tag_pos, std::string("unexpected end of template, expected '") + std::string(end) + "'");
    }
    if (brackets.empty()) {
      const bool minus = src_[p] == '-' && src_.compare(p + 1, 2, end) == 0;
      const bool plus = is_block && src_[p] == '+' && src_.compare(p + 1, 2, end) == 0;
      if (minus || plus || src_.compare(p, 2, end) == 0) {
        emit(is_block ? TokenType::kBlockEnd : TokenType::kVarEnd, std::string(end), p);
        *pos = p + (minus || plus ? 3 : 2);
        after_close(pos, minus, plus, is_block);
        return ok_status();
      }
    }
    const char c = src_[p];
    const size_t start = p;
    if (is_name_start(c)) {
      while (p < src_.size() && is_name_char(src_[p])) ++p;
      std::string name = src_.substr(start, p - start);
      // `{% raw %}`: the body up to `{% endraw %}` is literal text.
      if (is_block && first_token && name == "raw") {
        size_t q = p;
        while (q < src_.size() && is_space(src_[q])) ++q;
        const bool minus = src_.compare(q, 3, "-%}") == 0, plus = src_.compare(q, 3, "+%}") == 0;
        if (minus || plus || src_.compare(q, 2, "%}") == 0) {
          out_.pop_back();  // the kBlockBegin
          *pos = q + (minus || plus ? 3 : 2);
          after_close(pos, minus, /*plus=*/true, true);  // jinja2 applies no trim_blocks after `raw %}`
          return lex_raw(pos, *pos);
        }
      }
      emit(TokenType::kName, std::move(name), start);
    } else if (is_digit(c)) {
      std::string digits;
      while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
        if (src_[p] != '_') digits.push_back(src_[p]);
        ++p;
      }
      bool is_float = false;
      const bool after_dot = start > 0 && src_[start - 1] == '.';
      if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
        is_float = true;
        digits.push_back('.');
        ++p;
        while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
          if (src_[p] != '_') digits.push_back(src_[p]);
          ++p;
        }
      }
      if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
        size_t q = p + 1;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        if (q < src_.size() && is_digit(src_[q])) {
          is_float = true;
          digits += 'e';
          digits.append(src_, p + 1, q - p - 1);
          p = q;
          while (p < src_.size() && (is_digit(src_[p]) || src_[p] == '_')) {
            if (src_[p] != '_') digits.push_back(src_[p]);
            ++p;
          }
        }
      }
      Token t;
      t.loc = loc_at(start);
      t.text = src_.substr(start, p - start);
      if (is_float) {
        t.type = TokenType::kFloat;
        std::from_chars(digits.data(), digits.data() + digits.size(), t.float_value);
      } else {
        t.type = TokenType::kInt;
        const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value);
        if (r.ec != std::errc()) return error_at(start, "integer literal too large");
      }
      out_.push_back(std::move(t));
    } else if (c == '\'' || c == '"') {
      ++p;
      while (p < src_.size() && src_[p] != c) p += src_[p] == '\\' ? 2 : 1;
      if (p >= src_.size()) return error_at(start, "unterminated string literal");
      auto decoded = decode_escapes(std::string_view(src_).substr(start + 1, p - start - 1));
      if (!decoded.ok()) return error_at(start, decoded.status().message());
      ++p;
      emit(TokenType::kString, std::move(decoded).value(), start);
    } else {
      static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (std::string_view two : kTwo) {
        if (src_.compare(p, 2, two) == 0) op = two;
      }
      if (op.empty()) {
        if (std::string_view("+-*/%~[](){}<>=.:|,;").find(c) == std::string_view::npos) {
          return error_at(start, std::string("unexpected character '") + c + "'");
        }
        op = std::string(1, c);
      }
      if (op == "(" || op == "[" || op == "{") {
        if (brackets.size() >= 256) return error_at(start, "brackets nested too deeply");
        brackets.push_back(op == "(" ? ')' : (op == "[" ? ']' : '}'));
      } else if (op == ")" || op == "]" || op == "}") {
        if (brackets.empty() || brackets.back() != op[0]) return error_at(start, "unexpected '" + op + "'");
        brackets.pop_back();
      }
      p += op.size();
      emit(TokenType::kOp, std::move(op), start);
    }
    first_token = false;
  }
}

Result<std::vector<Token>> Lexer::run() {
  size_t pos = 0;
  while (pos < src_.size()) {
    size_t t = pos;
    while (true) {
      t = src_.find('{', t);
      if (t == std::string::npos || t + 1 >= src_.size()) {
        t = std::string::npos;
        break;
      }
      const char k = src_[t + 1];
      if (k == '{' || k == '%' || k == '#') break;
      ++t;
    }
    if (t == std::string::npos) {
      emit_text(src_.substr(pos), pos, '{', '\0');
      break;
    }
    const char kind = src_[t + 1];
    const char sign = t + 2 < src_.size() ? src_[t + 2] : '\0';
    emit_text(src_.substr(pos, t - pos), pos, kind, sign);
    const size_t body = t + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
    if (kind == '#') {
      const size_t close = src_.find("#}", body);
      if (close == std::string::npos) return error_at(t, "missing end of comment tag");
      const bool minus = close > body && src_[close - 1] == '-';
      pos = close + 2;
      after_close(&pos, minus, false, true);
      continue;
    }
    const bool is_block = kind == '%';
    emit(is_block ? TokenType::kBlockBegin : TokenType::kVarBegin, is_block ? "{%" : "{{", t);
    pos = body;
    PODSERVE_RETURN_IF_ERROR(lex_tag(&pos, is_block, t));
  }
  Token eof;
  eof.loc = loc_at(src_.size());
  out_.push_back(std::move(eof));
  return std::move(out_);
}

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source) {
  // jinja2 normalizes every newline sequence to "\n" and drops one trailing newline.
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src.push_back(source[i]);
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace podserve::jinja
