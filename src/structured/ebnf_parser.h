// Parses EBNF in xgrammar's dialect (GBNF-compatible) into the grammar IR:
//   rule ::= alternatives [(= lookahead)]       rules are found by `name ::=`, so a rule may span lines
//   "literal" with C/JSON escapes, \xHH, \uHHHH, \UHHHHHHHH (code points)   [a-z] [^"\\] [^] classes
//   grouping ( ), |, ?, *, +, {n}, {n,}, {n,m} (and xgrammar's printed {n, -1}), rule references, # comments.
// Errors name the line and column: "EBNF parse error at line 3, column 14: ...".
#pragma once

#include <string_view>

#include "base/status.h"
#include "structured/grammar.h"

namespace podserve::structured {

/// The largest count a repetition may name; xgrammar expands bounded repetitions, so huge bounds cost memory.
inline constexpr int kMaxRepeatCount = 10000;

Result<Grammar> parse_ebnf(std::string_view text, std::string_view root_rule = "root");

}  // namespace podserve::structured
