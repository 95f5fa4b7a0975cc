// Python str semantics over UTF-8 std::strings: code-point indexing, whitespace, strip/split, case mapping,
// and float formatting as Python's repr() prints it. Case mapping covers ASCII, Latin-1, Latin Extended-A,
// Greek and Cyrillic (plus ß -> SS); letters of other scripts are left as they are and count as uncased.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::jinja {

/// Decodes UTF-8; an invalid byte decodes to U+FFFD.
std::u32string utf8_decode(std::string_view s);
void utf8_append(std::string* out, char32_t cp);
std::string utf8_encode(std::u32string_view s);
/// Number of code points (Python len()).
int64_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

/// str.isspace() for one code point.
bool py_isspace(char32_t c);

/// Byte length of the leading run of Python whitespace.
size_t py_space_prefix(std::string_view s);
/// str.strip/lstrip/rstrip: `chars` absent strips whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
/// str.split(sep, maxsplit); sep absent splits on runs of whitespace. `sep` must not be empty.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
/// str.splitlines() (no keepends).
std::vector<std::string> py_splitlines(std::string_view s);
/// str.replace(old, new, count); count < 0 replaces all.
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
/// str.title(): letters after a non-letter are upper-cased, the rest lower-cased.
std::string py_title(std::string_view s);
/// str.capitalize().
std::string py_capitalize(std::string_view s);
/// jinja2's `title` filter: capitalizes words split at whitespace, '-', '(', '{', '[' and '<'.
std::string jinja_title(std::string_view s);

/// repr(float) / str(float): shortest round-trip digits, "1.0", "1e-05", "1e+20", "inf", "nan".
std::string format_float(double d);
/// repr(str): quoted and escaped like CPython.
std::string py_repr_string(std::string_view s);

/// Python slice semantics: the indices selected by [start:stop:step] on a sequence of length `len`.
/// `step` must not be 0.
std::vector<int64_t> slice_indices(int64_t len, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   int64_t step);

}  // namespace podserve::jinja
