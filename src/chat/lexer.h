// Lexer: template source -> tokens. Applies the whitespace rules transformers configures (trim_blocks,
// lstrip_blocks, `{%-`/`-%}` and friends, `{%+`), drops comments, turns `{% raw %}` bodies into text and
// drops one trailing newline of the source (keep_trailing_newline=False). Newlines are normalized to "\n".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve::jinja {

/// A position in the template source (1-based line and column; columns count bytes).
struct Loc {
  int line = 0;
  int col = 0;
};

/// "line L, column C".
std::string loc_string(Loc loc);

enum class TokenType : uint8_t {
  kText,        // literal template text (value in `text`)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier or keyword
  kString,      // string literal, escapes already decoded
  kInt,
  kFloat,
  kOp,          // operator or punctuation, e.g. "+", "//", "==", "(", "|"
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  Loc loc;
};

/// Splits a template into tokens. Syntax errors (unterminated tags or strings, bad characters) name their
/// line and column.
Result<std::vector<Token>> tokenize(std::string_view source);

}  // namespace podserve::jinja
