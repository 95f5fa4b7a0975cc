// Parser: tokens -> AST, with jinja2's grammar and operator precedence (filters and tests bind tighter
// than arithmetic; `not x is defined` is `not (x is defined)`).
#pragma once

#include <memory>
#include <string_view>

#include "base/status.h"
#include "chat/ast.h"

namespace podserve::jinja {

/// Deepest nesting of statements and expressions the parser accepts (keeps recursion bounded).
inline constexpr int kMaxNesting = 200;

/// Rejects filters and tests that do not exist, as jinja2 does when it compiles a template: except inside
/// an `if` statement or an inline `if` expression, where the error waits until render time.
Status check_names(const Program& program);

/// Parses a whole template (and runs check_names). Errors name the line and column of the offending token.
Result<std::unique_ptr<Program>> parse_template(std::string_view source);

}  // namespace podserve::jinja
