// UTF-8 helpers with Rust `String::from_utf8_lossy` semantics (what HF `tokenizers` decodes with): every
// maximal invalid subpart becomes one U+FFFD, so streaming and whole-string decoding agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/utf8.h"

namespace podserve::tokenizer_internal {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the valid UTF-8 sequence starting at `s[pos]`, or 0 if the bytes there are invalid or cut off.
size_t utf8_valid_length(std::string_view s, size_t pos);

/// Appends the decodable prefix of `in` to `out`, replacing invalid subparts with U+FFFD. When `final` is
/// false an incomplete (but so far valid) sequence at the end is left unconsumed. Returns bytes consumed.
size_t utf8_append_lossy(std::string_view in, bool final, std::string* out);

/// The whole of `in` with invalid subparts replaced.
std::string utf8_lossy(std::string_view in);

using ::podserve::utf8_append_codepoint;  // base/utf8.h

}  // namespace podserve::tokenizer_internal
