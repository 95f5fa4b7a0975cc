// Regular expression -> EBNF expression, with xgrammar 0.2.8's regex semantics (measured with its wheel):
// the whole output must match (`^`/`$` are dropped; elsewhere ignored with a warning); `.` matches any code
// point including newline; lazy quantifiers act greedy; \d \w \s (\s also U+00A0) and negations; escapes
// \t \n \r \f \v \0 \e \a \cX \xHH \uHHHH \u{H..} \UHHHHHHHH; unknown escapes match the character itself.
// Errors (as xgrammar): backreferences, \b \B, look-around, \p{..}, group flags (?i) / (?P<..>),
// doubled quantifiers, bad counts, unbalanced parentheses, empty or reversed classes.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace podserve::structured {

struct RegexOptions {
  /// JSON-schema `pattern` mode (xgrammar's json_string): character classes (incl. `.` and \d\w\s) also
  /// exclude `"`, `\` and U+0000..U+001F, so a match stays inside a JSON string; literals stay raw.
  /// xgrammar compiles an all-ASCII pattern with a more lenient engine, so then also (measured): look-aheads
  /// are dropped (match as empty), a leading (?i) makes ASCII letters case-insensitive, (?P<name>...) is a
  /// group, doubled quantifiers repeat (a{2}{3} = a{6}), and \s leaves out U+00A0.
  bool json_string = false;
};

/// The regex as one EBNF expression (no rule name). Errors are InvalidArgument with xgrammar's wording:
/// "Regex parsing error at position N: ...".
Result<std::string> regex_to_ebnf_expr(std::string_view regex, const RegexOptions& options = {});

/// A whole grammar: `root ::= <expr>`.
Result<std::string> regex_to_ebnf(std::string_view regex, const RegexOptions& options = {});

}  // namespace podserve::structured
