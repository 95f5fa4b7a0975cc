// UTF-8 encoding and decoding of one code point, shared by the tokenizer, the chat-template interpreter and
// the structured-output grammars.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace podserve {

/// Appends code point `cp` (a Unicode scalar value) to `out` as UTF-8.
inline void utf8_append_codepoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// Decodes the code point at `*i` (advancing it); an invalid or truncated sequence yields U+FFFD for one byte.
inline uint32_t utf8_decode_next(std::string_view s, size_t* i) {
  const auto c0 = static_cast<unsigned char>(s[*i]);
  if (c0 < 0x80) {
    ++*i;
    return c0;
  }
  size_t n = 0;
  uint32_t cp = 0;
  if ((c0 & 0xE0) == 0xC0) {
    n = 1, cp = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    n = 2, cp = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    n = 3, cp = c0 & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + n >= s.size()) {
    ++*i;
    return 0xFFFD;
  }
  for (size_t k = 1; k <= n; ++k) {
    const auto c = static_cast<unsigned char>(s[*i + k]);
    if ((c & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += n + 1;
  return cp;
}

}  // namespace podserve
