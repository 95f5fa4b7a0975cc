#include "structured/grammar.h"

#include <algorithm>
#include <cstdio>

namespace podserve::structured {

GrammarExpr GrammarExpr::literal(std::string s) {
  GrammarExpr e;
  e.kind = s.empty() ? Kind::kEmpty : Kind::kBytes;
  e.bytes = std::move(s);
  return e;
}

GrammarExpr GrammarExpr::char_class(std::vector<CodepointRange> ranges, bool negated) {
  GrammarExpr e;
  e.kind = Kind::kCharClass;
  e.ranges = normalize_ranges(std::move(ranges));
  e.negated = negated;
  return e;
}

GrammarExpr GrammarExpr::rule_ref(int rule) {
  GrammarExpr e;
  e.kind = Kind::kRuleRef;
  e.rule = rule;
  return e;
}

GrammarExpr GrammarExpr::sequence(std::vector<GrammarExpr> parts) {
  if (parts.size() == 1) return std::move(parts[0]);
  GrammarExpr e;
  e.kind = parts.empty() ? Kind::kEmpty : Kind::kSequence;
  e.children = std::move(parts);
  return e;
}

GrammarExpr GrammarExpr::choice(std::vector<GrammarExpr> alternatives) {
  if (alternatives.size() == 1) return std::move(alternatives[0]);
  GrammarExpr e;
  e.kind = Kind::kChoice;
  e.children = std::move(alternatives);
  return e;
}

GrammarExpr GrammarExpr::repeat(GrammarExpr child, int min, int max) {
  GrammarExpr e;
  e.kind = Kind::kRepeat;
  e.children.push_back(std::move(child));
  e.min = min;
  e.max = max;
  return e;
}

int Grammar::find_rule(const std::string& name) const {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const CodepointRange& a, const CodepointRange& b) { return a.lo < b.lo; });
  std::vector<CodepointRange> out;
  for (const CodepointRange& r : ranges) {
    if (!out.empty() && r.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

namespace {

void append_escaped_cp(uint32_t cp, bool in_class, std::string* out) {
  char buf[16];
  switch (cp) {
    case '\n': *out += "\\n"; return;
    case '\r': *out += "\\r"; return;
    case '\t': *out += "\\t"; return;
    case '\\': *out += "\\\\"; return;
    case '"': *out += "\\\""; return;
    default: break;
  }
  if (in_class && (cp == ']' || cp == '-' || cp == '^')) {
    out->push_back('\\');
    out->push_back(static_cast<char>(cp));
    return;
  }
  if (cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof(buf), "\\x%02x", cp);
    *out += buf;
  } else if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
    *out += buf;
  } else {
    std::snprintf(buf, sizeof(buf), "\\U%08x", cp);
    *out += buf;
  }
}

/// Decodes one UTF-8 sequence of a literal for printing (invalid bytes print as \xHH... of the byte itself).
void print_literal(const std::string& s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!ok) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", b);
      *out += buf;
      ++i;
      continue;
    }
    append_escaped_cp(cp, false, out);
    i += static_cast<size_t>(len);
  }
  out->push_back('"');
}

void print_expr(const Grammar& g, const GrammarExpr& e, std::string* out) {
  switch (e.kind) {
    case GrammarExpr::Kind::kEmpty: *out += "\"\""; return;
    case GrammarExpr::Kind::kBytes: print_literal(e.bytes, out); return;
    case GrammarExpr::Kind::kCharClass:
      *out += e.negated ? "[^" : "[";
      for (const CodepointRange& r : e.ranges) {
        append_escaped_cp(r.lo, true, out);
        if (r.hi != r.lo) {
          out->push_back('-');
          append_escaped_cp(r.hi, true, out);
        }
      }
      out->push_back(']');
      return;
    case GrammarExpr::Kind::kRuleRef: *out += g.rules[static_cast<size_t>(e.rule)].name; return;
    case GrammarExpr::Kind::kSequence:
    case GrammarExpr::Kind::kChoice:
      out->push_back('(');
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) *out += e.kind == GrammarExpr::Kind::kChoice ? " | " : " ";
        print_expr(g, e.children[i], out);
      }
      out->push_back(')');
      return;
    case GrammarExpr::Kind::kRepeat:
      out->push_back('(');
      print_expr(g, e.children[0], out);
      out->push_back(')');
      if (e.min == 0 && e.max == -1) {
        out->push_back('*');
      } else if (e.min == 1 && e.max == -1) {
        out->push_back('+');
      } else if (e.min == 0 && e.max == 1) {
        out->push_back('?');
      } else if (e.max == -1) {
        *out += "{" + std::to_string(e.min) + ",}";
      } else if (e.min == e.max) {
        *out += "{" + std::to_string(e.min) + "}";
      } else {
        *out += "{" + std::to_string(e.min) + "," + std::to_string(e.max) + "}";
      }
      return;
  }
}

}  // namespace

std::string Grammar::to_ebnf() const {
  std::string out;
  auto print_rule = [&](const GrammarRule& r) {
    out += r.name + " ::= ";
    print_expr(*this, r.body, &out);
    if (r.lookahead) {
      out += " (= ";
      print_expr(*this, *r.lookahead, &out);
      out += ")";
    }
    out += "\n";
  };
  if (root >= 0 && root < static_cast<int>(rules.size())) print_rule(rules[static_cast<size_t>(root)]);
  for (size_t i = 0; i < rules.size(); ++i) {
    if (static_cast<int>(i) != root) print_rule(rules[i]);
  }
  return out;
}

}  // namespace podserve::structured
