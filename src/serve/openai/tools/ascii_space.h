// The two whitespace sets the tool parsers (and required tool calls) test for, defined once: each file had its own
// copy, and the sanitizer builds compile several files as one translation unit (CMake unity builds).
#pragma once

#include <cstddef>
#include <string_view>

namespace podserve::openai {

/// Python's str.isspace() on ASCII (what str.strip() and the `\s` of Python's re drop): space, \t, \n, \r, \f, \v.
inline bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// JSON's insignificant whitespace (RFC 8259, as json.loads skips it): space, \t, \n, \r.
inline bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// The first offset at or after `p` whose character is not is_ascii_space (s.size() when there is none).
inline size_t skip_ascii_space(std::string_view s, size_t p) {
  while (p < s.size() && is_ascii_space(s[p])) ++p;
  return p;
}

}  // namespace podserve::openai
