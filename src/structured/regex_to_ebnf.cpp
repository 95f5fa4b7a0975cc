#include "structured/regex_to_ebnf.h"

#include <algorithm>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/utf8.h"
#include "structured/ebnf_text.h"

namespace podserve::structured {
namespace {

constexpr int kMaxGroupDepth = 256;          // deeper nesting is hostile input, not a pattern
constexpr uint64_t kMaxRepeatCount = 100000;  // xgrammar accepts large counts; this bounds our text

CodepointSet digit_set() { return CodepointSet::of('0', '9'); }
CodepointSet word_set() {
  CodepointSet s = CodepointSet::of('a', 'z');
  s.add('A', 'Z');
  s.add('0', '9');
  s.add('_', '_');
  return s;
}
// xgrammar's \s: [\f\n\r\t\v\u0020\u00a0]; its lenient pattern engine leaves out U+00A0 (\S matches it).
CodepointSet space_set(bool lenient) {
  CodepointSet s = CodepointSet::of('\t', '\r');
  s.add(' ', ' ');
  if (!lenient) s.add(0xA0, 0xA0);
  return s;
}
// What a JSON string may hold unescaped: no `"`, `\` or control characters.
CodepointSet json_unsafe_set() {
  CodepointSet s = CodepointSet::of(0, 0x1F);
  s.add('"', '"');
  s.add('\\', '\\');
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class RegexParser {
 public:
  RegexParser(std::string_view re, const RegexOptions& options) : re_(re), options_(options) {}

  Result<std::string> parse() {
    // xgrammar compiles an all-ASCII JSON-schema pattern with a more lenient engine than its regex converter.
    lenient_ = options_.json_string &&
               std::all_of(re_.begin(), re_.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (!re_.empty() && re_[0] == '^') pos_ = 1;
    if (lenient_ && re_.substr(pos_, 4) == "(?i)") {
      case_insensitive_ = true;
      pos_ += 4;
    }
    PODSERVE_ASSIGN_OR_RETURN(std::string expr, parse_alternation(0));
    if (pos_ < re_.size()) return error("Unmatched ')'", pos_ + 1);
    return expr;
  }

 private:
  Status error(const std::string& what, size_t position) const {
    return invalid_argument("Regex parsing error at position " + std::to_string(position) + ": " + what);
  }
  Status error(const std::string& what) const { return error(what, pos_); }
  bool at_end() const { return pos_ >= re_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < re_.size() ? re_[pos_ + ahead] : '\0'; }

  Result<std::string> parse_alternation(int depth) {
    if (depth > kMaxGroupDepth) return error("Regex is nested too deeply.");
    std::vector<std::string> branches;
    while (true) {
      PODSERVE_ASSIGN_OR_RETURN(std::string seq, parse_sequence(depth));
      branches.push_back(std::move(seq));
      if (peek() != '|' || at_end()) break;
      ++pos_;
    }
    std::string out;
    for (size_t i = 0; i < branches.size(); ++i) out += (i ? " | " : "") + branches[i];
    return out;
  }

  Result<std::string> parse_sequence(int depth) {
    std::vector<std::string> elements;
    std::string pending_literal;  // consecutive unquantified characters, emitted as one literal
    auto flush = [&] {
      if (!pending_literal.empty()) elements.push_back(ebnf_literal(pending_literal));
      pending_literal.clear();
    };
    while (!at_end() && peek() != '|' && peek() != ')') {
      const size_t atom_start = pos_;
      std::string element;
      std::string literal;  // set when the atom is one plain character
      bool is_anchor = false;
      const char c = peek();
      if (c == '(') {
        PODSERVE_ASSIGN_OR_RETURN(element, parse_group(depth));
      } else if (c == '[') {
        PODSERVE_ASSIGN_OR_RETURN(CodepointSet set, parse_class());
        PODSERVE_ASSIGN_OR_RETURN(element, class_element(set));
      } else if (c == '.') {
        ++pos_;
        PODSERVE_ASSIGN_OR_RETURN(element, class_element(CodepointSet::of(0, kMaxCodepoint)));
      } else if (c == '^' || c == '$') {
        ++pos_;
        is_anchor = true;
        if (!(c == '$' && at_end())) {
          PODSERVE_LOG(kWarning) << "regex: '" << c << "' in the middle of the pattern at position "
                                 << pos_ << " is ignored (as xgrammar)";
        }
      } else if (c == '*' || c == '+' || c == '?') {
        return error("Nothing to repeat before '" + std::string(1, c) + "'.", pos_ + 1);
      } else if (c == '{') {
        PODSERVE_RETURN_IF_ERROR(parse_count(nullptr, nullptr));
        return error("Nothing to repeat before '{'.", atom_start + 1);
      } else if (c == '\\') {
        PODSERVE_ASSIGN_OR_RETURN(Escape esc, parse_escape(false));
        if (esc.is_set) {
          PODSERVE_ASSIGN_OR_RETURN(element, class_element(esc.set));
        } else {
          utf8_append_codepoint(esc.cp, &literal);
        }
      } else {
        const uint32_t cp = utf8_decode_next(re_, &pos_);
        if (case_insensitive_ && ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))) {
          PODSERVE_ASSIGN_OR_RETURN(element, class_element(ascii_case_folded(CodepointSet::of(cp, cp))));
        } else {
          utf8_append_codepoint(cp, &literal);
        }
      }
      if (is_anchor) continue;
      PODSERVE_ASSIGN_OR_RETURN(std::string quantifier, parse_quantifier());
      if (quantifier.empty() && !literal.empty()) {
        pending_literal += literal;
        continue;
      }
      flush();
      if (!literal.empty()) element = ebnf_literal(literal);
      // A doubled quantifier came back as "q1)q2": open one group per ')' so it reads "((e q1) q2)".
      const size_t closes = static_cast<size_t>(std::count(quantifier.begin(), quantifier.end(), ')'));
      elements.push_back(std::string(closes, '(') + element + quantifier);
    }
    flush();
    if (elements.empty()) return std::string("\"\"");
    std::string out;
    for (size_t i = 0; i < elements.size(); ++i) out += (i ? " " : "") + elements[i];
    return out;
  }

  Result<std::string> parse_group(int depth) {
    ++pos_;  // '('
    if (peek() == '?') {
      const char kind = peek(1);
      if (kind == ':') {
        pos_ += 2;
      } else if ((kind == '=' || kind == '!') && lenient_) {  // a lookahead matches no text: dropped
        pos_ += 2;
        PODSERVE_RETURN_IF_ERROR(parse_alternation(depth + 1).status());
        if (peek() != ')' || at_end()) return error("The parenthesis is not closed.", re_.size() + 1);
        ++pos_;
        return std::string("\"\"");
      } else if (kind == '=' || kind == '!') {
        return error("Lookahead is not supported yet.", pos_ + 2);
      } else if (kind == 'P' && peek(2) == '<' && lenient_) {
        pos_ += 3;
        while (!at_end() && peek() != '>') ++pos_;
        if (at_end()) return error("The group name is not closed.");
        ++pos_;
      } else if (kind == '<' && (peek(2) == '=' || peek(2) == '!')) {
        return error("Lookbehind is not supported yet.", pos_ + 3);
      } else if (kind == '<') {  // (?<name>...): a capture name, irrelevant to matching
        pos_ += 2;
        while (!at_end() && peek() != '>') ++pos_;
        if (at_end()) return error("The group name is not closed.");
        ++pos_;
      } else {
        return error("Group modifier flag is not supported yet.", pos_ + 2);
      }
    }
    PODSERVE_ASSIGN_OR_RETURN(std::string inner, parse_alternation(depth + 1));
    if (peek() != ')' || at_end()) return error("The parenthesis is not closed.", re_.size() + 1);
    ++pos_;
    return "( " + inner + " )";
  }

  // Parses `{n}`, `{n,}`, `{n,m}` at pos_ (which is at '{'). max = -1: unbounded.
  Status parse_count(uint64_t* min_out, int64_t* max_out) {
    const size_t start = pos_;
    ++pos_;
    auto number = [&](uint64_t* value) {
      const size_t digits_start = pos_;
      uint64_t v = 0;
      while (!at_end() && peek() >= '0' && peek() <= '9') {
        v = v * 10 + static_cast<uint64_t>(peek() - '0');
        if (v > kMaxRepeatCount) v = kMaxRepeatCount + 1;
        ++pos_;
      }
      *value = v;
      return pos_ > digits_start;
    };
    uint64_t lo = 0, hi = 0;
    bool bounded = true;
    if (!number(&lo)) return error("Invalid repetition count.", pos_ + 1);
    if (peek() == ',') {
      ++pos_;
      bounded = number(&hi);
    } else {
      hi = lo;
    }
    if (peek() != '}' || at_end()) return error("Invalid repetition count.", pos_ + 1);
    ++pos_;
    if (lo > kMaxRepeatCount || (bounded && hi > kMaxRepeatCount)) {
      return error("Repetition count is larger than " + std::to_string(kMaxRepeatCount) + ".", start + 1);
    }
    if (bounded && lo > hi) {
      return error("Lower bound is larger than upper bound: " + std::to_string(lo) + " > " +
                       std::to_string(hi),
                   start + 1);
    }
    if (min_out) *min_out = lo;
    if (max_out) *max_out = bounded ? static_cast<int64_t>(hi) : -1;
    return ok_status();
  }

  Result<std::string> parse_quantifier() {
    std::string q;
    const char c = peek();
    if (at_end()) return q;
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      q = std::string(1, c);
    } else if (c == '{') {
      uint64_t lo = 0;
      int64_t hi = 0;
      PODSERVE_RETURN_IF_ERROR(parse_count(&lo, &hi));
      q = "{" + std::to_string(lo) + (hi < 0 ? "," : hi == static_cast<int64_t>(lo) ? "" : "," + std::to_string(hi)) + "}";
    } else {
      return q;
    }
    if (!at_end() && peek() == '?') ++pos_;  // lazy: same language
    if (!at_end() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')) {
      if (!lenient_) return error("Two consecutive repetition modifiers are not allowed.", pos_ + 1);
      // Lenient engine: `a{2}{3}` repeats the repetition.
      PODSERVE_ASSIGN_OR_RETURN(std::string outer, parse_quantifier());
      return q + ")" + outer;  // parse_sequence opens the matching "(" (see wrap_doubled)
    }
    return q;
  }

  struct Escape {
    bool is_set = false;
    uint32_t cp = 0;
    CodepointSet set;
  };

  Result<Escape> parse_escape(bool in_class) {
    const size_t backslash = pos_;
    ++pos_;
    if (at_end()) return error("Escape sequence at the end of the regex.", backslash + 1);
    const char c = peek();
    ++pos_;
    Escape esc;
    auto set = [&](const CodepointSet& s) {
      esc.is_set = true;
      esc.set = s;
      return esc;
    };
    switch (c) {
      case 'd': return set(digit_set());
      case 'w': return set(word_set());
      case 's': return set(space_set(lenient_));
      case 'D': return set(digit_set().complement());
      case 'W': return set(word_set().complement());
      case 'S': return set(space_set(lenient_).complement());
      case 't': esc.cp = '\t'; return esc;
      case 'n': esc.cp = '\n'; return esc;
      case 'r': esc.cp = '\r'; return esc;
      case 'f': esc.cp = '\f'; return esc;
      case 'v': esc.cp = '\v'; return esc;
      case '0': esc.cp = 0; return esc;
      case 'e': esc.cp = 0x1B; return esc;
      case 'a': esc.cp = 0x07; return esc;
      case 'b':
        if (in_class) {
          esc.cp = 0x08;
          return esc;
        }
        return error("Word boundary is not supported yet.", backslash + 1);
      case 'B': return error("Word boundary is not supported yet.", backslash + 1);
      case 'k': return error("Backreference is not supported yet.", backslash + 1);
      case 'p':
      case 'P': return error("Unicode character class escape sequence is not supported yet.", backslash + 1);
      case 'c':
        if ((peek() >= 'a' && peek() <= 'z') || (peek() >= 'A' && peek() <= 'Z')) {
          esc.cp = static_cast<uint32_t>(peek()) & 0x1F;
          ++pos_;
          return esc;
        }
        esc.cp = 'c';
        return esc;
      case 'x': return hex_escape(2, 'x');
      case 'u':
        if (peek() == '{') return braced_hex_escape();
        return hex_escape(4, 'u');
      case 'U': return hex_escape(8, 'U');
      default: break;
    }
    if (c >= '1' && c <= '9') return error("Backreference is not supported yet.", backslash + 1);
    pos_ = backslash + 1;
    esc.cp = utf8_decode_next(re_, &pos_);  // an escaped metacharacter or an unknown escape: the character itself
    return esc;
  }

  // \xHH, \uHHHH, \UHHHHHHHH; without enough hex digits the letter itself (xgrammar: \x{41} is "x"{41}).
  Result<Escape> hex_escape(int digits, char letter) {
    Escape esc;
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = hex_value(peek(static_cast<size_t>(i)));
      if (h < 0 || pos_ + static_cast<size_t>(i) >= re_.size()) {
        esc.cp = static_cast<uint32_t>(letter);
        return esc;
      }
      v = v * 16 + static_cast<uint32_t>(h);
    }
    if (v > kMaxCodepoint) return error("Invalid Unicode escape.");
    pos_ += static_cast<size_t>(digits);
    esc.cp = v;
    return esc;
  }

  Result<Escape> braced_hex_escape() {  // \u{H...}
    const size_t start = pos_;
    ++pos_;
    uint32_t v = 0;
    int n = 0;
    while (!at_end() && hex_value(peek()) >= 0 && n < 8) {
      v = v * 16 + static_cast<uint32_t>(hex_value(peek()));
      ++pos_, ++n;
    }
    if (n == 0 || peek() != '}' || v > kMaxCodepoint) return error("Invalid Unicode escape.", start);
    ++pos_;
    Escape esc;
    esc.cp = v;
    return esc;
  }

  Result<CodepointSet> parse_class() {
    const size_t open = pos_;
    ++pos_;  // '['
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    } else if (peek() == '\\' && peek(1) == '^') {  // xgrammar 0.2.8 reads `[\^` as a negation too
      negated = true;
      pos_ += 2;
    }
    CodepointSet set;
    bool first = true;
    while (true) {
      if (at_end()) return error("The character class is not closed.", open + 1);
      if (peek() == ']') {
        if (first && !negated) return error("Empty character class is not allowed in regex.", pos_ + 1);
        ++pos_;
        break;
      }
      first = false;
      PODSERVE_ASSIGN_OR_RETURN(Escape lo, class_atom());
      if (!lo.is_set && peek() == '-' && peek(1) != ']' && pos_ + 1 < re_.size()) {
        ++pos_;
        PODSERVE_ASSIGN_OR_RETURN(Escape hi, class_atom());
        if (hi.is_set) return error("Invalid character class: a range ends in a class escape.");
        if (lo.cp > hi.cp) return error("Invalid character class: lower bound is larger than upper bound");
        set.add(lo.cp, hi.cp);
      } else if (lo.is_set) {
        set.add(lo.set);
      } else {
        set.add(lo.cp, lo.cp);
      }
    }
    if (case_insensitive_) set = ascii_case_folded(set);
    return negated ? set.complement() : set;
  }

  static CodepointSet ascii_case_folded(const CodepointSet& set) {
    CodepointSet out = set;
    for (uint32_t c = 'a'; c <= 'z'; ++c) {
      const uint32_t upper = c - 'a' + 'A';
      if (set.contains(c)) out.add(upper, upper);
      if (set.contains(upper)) out.add(c, c);
    }
    return out;
  }

  Result<Escape> class_atom() {
    if (peek() == '\\') return parse_escape(true);
    Escape esc;
    esc.cp = utf8_decode_next(re_, &pos_);
    return esc;
  }

  Result<std::string> class_element(CodepointSet set) {
    if (options_.json_string) set = set.minus(json_unsafe_set());
    if (set.empty()) return error("The character class matches no character allowed here.");
    return ebnf_class(set);
  }

  std::string_view re_;
  RegexOptions options_;
  bool lenient_ = false;           // JSON-schema pattern, all ASCII (see parse())
  bool case_insensitive_ = false;  // lenient engine, leading (?i): ASCII letters match either case
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> regex_to_ebnf_expr(std::string_view regex, const RegexOptions& options) {
  return RegexParser(regex, options).parse();
}

Result<std::string> regex_to_ebnf(std::string_view regex, const RegexOptions& options) {
  PODSERVE_ASSIGN_OR_RETURN(std::string expr, regex_to_ebnf_expr(regex, options));
  return "root ::= " + expr + "\n";
}

}  // namespace podserve::structured
