#include "structured/ebnf_parser.h"

#include <cctype>
#include <unordered_map>

#include "base/utf8.h"
#include "structured/regex_to_ebnf.h"

namespace podserve::structured {
namespace {

constexpr int kMaxNesting = 200;  // parentheses: recursion depth of the parser

class EbnfParser {
 public:
  explicit EbnfParser(std::string_view text) : text_(text) {}

  Result<Grammar> parse(std::string_view root_name) {
    skip_space();
    while (pos_ < text_.size()) {
      PODSERVE_RETURN_IF_ERROR(parse_rule());
      if (!error_.ok()) return error_;
      skip_space();
    }
    for (size_t i = 0; i < grammar_.rules.size(); ++i) {
      if (!defined_[i]) {
        return invalid_argument("EBNF parse error: rule \"" + grammar_.rules[i].name + "\" is not defined");
      }
    }
    grammar_.root = grammar_.find_rule(std::string(root_name));
    if (grammar_.root < 0) {
      return invalid_argument("EBNF parse error: the root rule with name \"" + std::string(root_name) +
                              "\" is not found");
    }
    return std::move(grammar_);
  }

 private:
  Status error(std::string message) const {
    int line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return invalid_argument("EBNF parse error at line " + std::to_string(line) + ", column " + std::to_string(column) +
                            ": " + message);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  }

  std::string_view read_name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  /// True when a `name ::=` starts at the current position (the start of the next rule).
  bool at_rule_start() const {
    size_t p = pos_;
    if (p >= text_.size() || !is_name_char(text_[p])) return false;
    while (p < text_.size() && is_name_char(text_[p])) ++p;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\n' || text_[p] == '\r')) ++p;
    return text_.substr(p, 3) == "::=";
  }

  int rule_index(std::string_view name) {
    auto it = index_.find(std::string(name));
    if (it != index_.end()) return it->second;
    const int id = static_cast<int>(grammar_.rules.size());
    grammar_.rules.push_back(GrammarRule{std::string(name), GrammarExpr::empty(), std::nullopt});
    defined_.push_back(false);
    index_.emplace(std::string(name), id);
    return id;
  }

  Status parse_rule() {
    if (!is_name_char(peek())) return error(std::string("expected a rule name, got '") + peek() + "'");
    const std::string_view name = read_name();
    skip_space();
    if (text_.substr(pos_, 3) != "::=") return error("expected '::=' after the rule name \"" + std::string(name) + "\"");
    pos_ += 3;
    const int id = rule_index(name);
    if (defined_[static_cast<size_t>(id)]) return error("rule \"" + std::string(name) + "\" is defined more than once");
    defined_[static_cast<size_t>(id)] = true;
    skip_space();
    GrammarExpr body = parse_choice(0);
    if (!error_.ok()) return error_;
    grammar_.rules[static_cast<size_t>(id)].body = std::move(body);
    skip_space();
    if (peek() == '(' && peek(1) == '=') {
      pos_ += 2;
      skip_space();
      GrammarExpr lookahead = parse_choice(1);
      if (!error_.ok()) return error_;
      skip_space();
      if (peek() != ')') return error("expected ')' to close the lookahead assertion");
      ++pos_;
      grammar_.rules[static_cast<size_t>(id)].lookahead = std::move(lookahead);
      skip_space();
    }
    if (!at_end() && !at_rule_start()) return error(std::string("unexpected character '") + peek() + "'");
    return ok_status();
  }

  /// alternatives := sequence ('|' sequence)*. `depth` > 0 inside parentheses.
  GrammarExpr parse_choice(int depth) {
    std::vector<GrammarExpr> alternatives;
    alternatives.push_back(parse_sequence(depth));
    while (error_.ok()) {
      skip_space();
      if (peek() != '|') break;
      ++pos_;
      skip_space();
      alternatives.push_back(parse_sequence(depth));
    }
    return GrammarExpr::choice(std::move(alternatives));
  }

  GrammarExpr parse_sequence(int depth) {
    std::vector<GrammarExpr> parts;
    int elements = 0;  // "" counts as an element; a bare `|`, `()` or `::=` with nothing after it does not
    while (error_.ok()) {
      skip_space();
      const char c = peek();
      if (at_end() || c == '|' || c == ')' || (c == '(' && peek(1) == '=')) break;
      if (depth == 0 && at_rule_start()) break;
      GrammarExpr element = parse_postfix(depth);
      if (!error_.ok()) break;
      ++elements;
      if (element.kind != GrammarExpr::Kind::kEmpty) parts.push_back(std::move(element));
    }
    if (elements == 0) fail("expected an expression");
    return GrammarExpr::sequence(std::move(parts));
  }

  void fail(std::string message) {
    if (error_.ok()) error_ = error(std::move(message));
  }

  GrammarExpr parse_postfix(int depth) {
    GrammarExpr e = parse_primary(depth);
    while (error_.ok()) {
      const char c = peek();
      if (c == '*') {
        ++pos_;
        e = GrammarExpr::repeat(std::move(e), 0, -1);
      } else if (c == '+') {
        ++pos_;
        e = GrammarExpr::repeat(std::move(e), 1, -1);
      } else if (c == '?') {
        ++pos_;
        e = GrammarExpr::repeat(std::move(e), 0, 1);
      } else if (c == '{') {
        ++pos_;
        int lo = 0, hi = 0;
        if (!parse_count(&lo, false)) return e;
        skip_inline_space();
        if (peek() == '}') {
          hi = lo;
        } else if (peek() == ',') {
          ++pos_;
          skip_inline_space();
          if (peek() == '}') {
            hi = -1;
          } else if (!parse_count(&hi, true)) {
            return e;
          }
          if (hi != -1 && hi < lo) {
            fail("the upper bound of a repetition is smaller than the lower bound");
            return e;
          }
        } else {
          fail("expected ',' or '}' in a repetition range");
          return e;
        }
        skip_inline_space();
        if (peek() != '}') {
          fail("expected '}' to close a repetition range");
          return e;
        }
        ++pos_;
        e = GrammarExpr::repeat(std::move(e), lo, hi);
      } else {
        break;
      }
    }
    return e;
  }

  void skip_inline_space() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }

  /// A repetition count; `allow_minus_one` accepts xgrammar's printed "-1" (unbounded).
  bool parse_count(int* out, bool allow_minus_one) {
    skip_inline_space();
    if (allow_minus_one && peek() == '-' && peek(1) == '1' && !std::isdigit(static_cast<unsigned char>(peek(2)))) {
      pos_ += 2;
      *out = -1;
      return true;
    }
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      fail("expected an integer in a repetition range");
      return false;
    }
    int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (peek() - '0');
      if (v > kMaxRepeatCount) {
        fail("a repetition count is larger than " + std::to_string(kMaxRepeatCount));
        return false;
      }
      ++pos_;
    }
    *out = static_cast<int>(v);
    return true;
  }

  GrammarExpr parse_primary(int depth) {
    const char c = peek();
    if (c == '"') return parse_literal();
    if (c == '[') return parse_class();
    if (c == '(') {
      if (depth >= kMaxNesting) {
        fail("parentheses are nested too deeply");
        return {};
      }
      ++pos_;
      skip_space();
      GrammarExpr inner = parse_choice(depth + 1);
      if (!error_.ok()) return inner;
      skip_space();
      if (peek() != ')') {
        fail("expected ')'");
        return inner;
      }
      ++pos_;
      return inner;
    }
    if (is_name_char(c)) {
      const std::string_view name = read_name();
      if (peek() == '(') {
        if (name == "Regex") return parse_regex_macro();
        fail("macros such as \"" + std::string(name) + "(...)\" are not supported");
        return {};
      }
      return GrammarExpr::rule_ref(rule_index(name));
    }
    fail(std::string("unexpected character '") + c + "'");
    return {};
  }

  /// xgrammar's `Regex("pattern"[, json_string=true])` (its JSON-schema printouts use it for `pattern` and
  /// `format`): the regex's grammar, imported as rules of this one.
  GrammarExpr parse_regex_macro() {
    ++pos_;  // '('
    skip_space();
    if (peek() != '"') {
      fail("expected a string literal in Regex(...)");
      return {};
    }
    const GrammarExpr pattern = parse_literal();
    if (!error_.ok()) return {};
    RegexOptions options;
    skip_space();
    if (peek() == ',') {
      ++pos_;
      skip_space();
      const std::string_view key = read_name();
      skip_space();
      if (key != "json_string" || peek() != '=') {
        fail("expected json_string=true|false in Regex(...)");
        return {};
      }
      ++pos_;
      skip_space();
      const std::string_view value = read_name();
      if (value != "true" && value != "false") {
        fail("expected true or false for json_string");
        return {};
      }
      options.json_string = value == "true";
      skip_space();
    }
    if (peek() != ')') {
      fail("expected ')' to close Regex(...)");
      return {};
    }
    ++pos_;
    Result<std::string> ebnf = regex_to_ebnf(pattern.bytes, options);
    if (!ebnf.ok()) {
      fail(ebnf.status().message());
      return {};
    }
    Result<Grammar> sub = parse_ebnf(*ebnf);
    if (!sub.ok()) {
      fail(sub.status().message());
      return {};
    }
    // Import the regex's rules under fresh names, references renumbered.
    const int base = static_cast<int>(grammar_.rules.size());
    const std::string prefix = "regex_" + std::to_string(++macro_count_) + "_";
    for (GrammarRule& r : sub->rules) {
      renumber(r.body, base);
      if (r.lookahead) renumber(*r.lookahead, base);
      r.name = prefix + r.name;
      index_.emplace(r.name, static_cast<int>(grammar_.rules.size()));
      grammar_.rules.push_back(std::move(r));
      defined_.push_back(true);
    }
    return GrammarExpr::rule_ref(base + sub->root);
  }

  static void renumber(GrammarExpr& e, int base) {
    if (e.kind == GrammarExpr::Kind::kRuleRef) e.rule += base;
    for (GrammarExpr& c : e.children) renumber(c, base);
  }

  /// One (possibly escaped) code point of a literal or class; `in_class` allows \[ \] \- \^.
  bool read_codepoint(bool in_class, uint32_t* cp) {
    if (at_end()) {
      fail("unexpected end of input");
      return false;
    }
    const auto b = static_cast<unsigned char>(text_[pos_]);
    if (b == '\\') {
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n': *cp = '\n'; return true;
        case 'r': *cp = '\r'; return true;
        case 't': *cp = '\t'; return true;
        case 'a': *cp = 0x07; return true;
        case 'b': *cp = 0x08; return true;
        case 'f': *cp = 0x0C; return true;
        case 'v': *cp = 0x0B; return true;
        case '0': *cp = 0; return true;
        case 'e': *cp = 0x1B; return true;
        case '\\': case '"': case '\'': case '/': case '?': *cp = static_cast<uint32_t>(e); return true;
        case 'x': return read_hex(2, cp);
        case 'u': return read_hex(4, cp);
        case 'U': return read_hex(8, cp);
        default:
          if (in_class && (e == '[' || e == ']' || e == '-' || e == '^')) {
            *cp = static_cast<uint32_t>(e);
            return true;
          }
          --pos_;
          fail(std::string("invalid escape sequence '\\") + e + "'");
          return false;
      }
    }
    // A UTF-8 character of the grammar text itself.
    const int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > text_.size()) {
      fail("invalid UTF-8 in the grammar");
      return false;
    }
    uint32_t v = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text_[pos_ + static_cast<size_t>(k)]);
      if ((c & 0xC0) != 0x80) {
        fail("invalid UTF-8 in the grammar");
        return false;
      }
      v = (v << 6) | (c & 0x3F);
    }
    pos_ += static_cast<size_t>(len);
    *cp = v;
    return true;
  }

  bool read_hex(int digits, uint32_t* cp) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      if (!std::isxdigit(static_cast<unsigned char>(h))) {
        fail("expected " + std::to_string(digits) + " hexadecimal digits in an escape");
        return false;
      }
      v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
      ++pos_;
    }
    if (v > 0x10FFFF) {
      fail("escape outside the Unicode range");
      return false;
    }
    *cp = v;
    return true;
  }

  GrammarExpr parse_literal() {
    ++pos_;  // opening quote
    std::string bytes;
    while (error_.ok()) {
      if (at_end() || peek() == '\n') {
        fail("unterminated string literal");
        return {};
      }
      if (peek() == '"') {
        ++pos_;
        break;
      }
      uint32_t cp = 0;
      if (!read_codepoint(false, &cp)) return {};
      utf8_append_codepoint(cp, &bytes);  // surrogates too, as xgrammar encodes
    }
    return GrammarExpr::literal(std::move(bytes));
  }

  GrammarExpr parse_class() {
    ++pos_;  // '['
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    std::vector<CodepointRange> ranges;
    while (error_.ok()) {
      if (at_end() || peek() == '\n') {
        fail("unterminated character class");
        return {};
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      uint32_t lo = 0;
      if (!read_codepoint(true, &lo)) return {};
      uint32_t hi = lo;
      if (peek() == '-' && peek(1) != ']') {
        ++pos_;
        if (at_end() || peek() == '\n') {
          fail("unterminated character class");
          return {};
        }
        if (!read_codepoint(true, &hi)) return {};
        if (hi < lo) {
          fail("invalid character class range (the end is before the start)");
          return {};
        }
      }
      ranges.push_back({lo, hi});
    }
    if (ranges.empty() && !negated) {
      fail("empty character class");
      return {};
    }
    return GrammarExpr::char_class(std::move(ranges), negated);
  }

  std::string_view text_;
  size_t pos_ = 0;
  Grammar grammar_;
  std::vector<bool> defined_;
  std::unordered_map<std::string, int> index_;
  Status error_;
  int macro_count_ = 0;
};

}  // namespace

Result<Grammar> parse_ebnf(std::string_view text, std::string_view root_rule) {
  EbnfParser parser(text);
  return parser.parse(root_rule);
}

}  // namespace podserve::structured
