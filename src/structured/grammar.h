// The grammar IR every front end lowers to (EBNF text, regex, choice lists, JSON Schema): named rules whose
// bodies are expressions over UTF-8 literals, code-point classes, rule references, sequences, choices and bounded
// or unbounded repetition, as in xgrammar's EBNF dialect. Printing gives EBNF that parses back to the same IR.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace podserve::structured {

/// An inclusive range of Unicode code points.
struct CodepointRange {
  uint32_t lo = 0, hi = 0;
};

struct GrammarExpr {
  enum class Kind : uint8_t { kEmpty, kBytes, kCharClass, kRuleRef, kSequence, kChoice, kRepeat };
  Kind kind = Kind::kEmpty;
  std::string bytes;                    // kBytes: the literal, UTF-8
  std::vector<CodepointRange> ranges;   // kCharClass: sorted, merged
  bool negated = false;                 // kCharClass: matches the code points outside `ranges`
  int rule = -1;                        // kRuleRef
  std::vector<GrammarExpr> children;    // kSequence / kChoice: the parts; kRepeat: one child
  int min = 0, max = -1;                // kRepeat: count bounds, max -1 = unbounded

  static GrammarExpr empty() { return {}; }
  static GrammarExpr literal(std::string s);
  static GrammarExpr char_class(std::vector<CodepointRange> ranges, bool negated);
  static GrammarExpr rule_ref(int rule);
  static GrammarExpr sequence(std::vector<GrammarExpr> parts);
  static GrammarExpr choice(std::vector<GrammarExpr> alternatives);
  static GrammarExpr repeat(GrammarExpr child, int min, int max);
};

struct GrammarRule {
  std::string name;
  GrammarExpr body;
  /// xgrammar's lookahead assertion `(= ...)`: what must follow the rule. It only helps the mask cache: for a
  /// correct grammar it does not change the language, and the matcher does not enforce it.
  std::optional<GrammarExpr> lookahead;
};

struct Grammar {
  std::vector<GrammarRule> rules;
  int root = 0;

  /// Index of the rule named `name`, or -1.
  int find_rule(const std::string& name) const;
  /// EBNF text in xgrammar's dialect (root first), parseable by parse_ebnf.
  std::string to_ebnf() const;
};

/// Sorts and merges overlapping or adjacent ranges.
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges);

}  // namespace podserve::structured
