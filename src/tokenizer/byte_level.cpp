#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

constexpr uint32_t kNoByte = 0xFFFFFFFFu;
constexpr uint32_t kMaxMapped = 0x100 + 68;  // highest stand-in code point is U+0143

bool maps_to_itself(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<std::string, 256> byte_text;  // UTF-8 of each byte's stand-in
  std::array<uint32_t, kMaxMapped> cp_to_byte;
  Tables() {
    cp_to_byte.fill(kNoByte);
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t cp = maps_to_itself(b) ? b : next++;
      utf8_append_codepoint(cp, &byte_text[b]);
      cp_to_byte[cp] = b;
    }
  }
};

const Tables& tables() {
  static const Tables kTables;
  return kTables;
}

}  // namespace

void bytes_to_byte_level(std::string_view bytes, std::string* out) {
  const Tables& t = tables();
  for (char c : bytes) out->append(t.byte_text[static_cast<uint8_t>(c)]);
}

void byte_level_to_bytes(std::string_view text, std::string* out) {
  const Tables& t = tables();
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t len = utf8_valid_length(text, pos);
    if (len == 0) {  // not UTF-8: keep the byte
      out->push_back(text[pos++]);
      continue;
    }
    uint32_t cp;
    const auto b0 = static_cast<uint8_t>(text[pos]);
    if (len == 1) {
      cp = b0;
    } else if (len == 2) {
      cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(text[pos + 1]) & 0x3Fu);
    } else {
      cp = kMaxMapped;  // 3- and 4-byte characters are never stand-ins
    }
    if (cp < kMaxMapped && t.cp_to_byte[cp] != kNoByte) {
      out->push_back(static_cast<char>(t.cp_to_byte[cp]));
    } else {
      out->append(text.substr(pos, len));
    }
    pos += len;
  }
}

}  // namespace podserve::tokenizer_internal

namespace podserve::tokenizer_internal {

void byte_level_token_to_bytes(std::string_view token, std::string* out) {
  const Tables& t = tables();
  std::string bytes;
  for (size_t pos = 0; pos < token.size();) {
    const size_t len = utf8_valid_length(token, pos);
    uint32_t cp = kMaxMapped;
    const auto b0 = static_cast<uint8_t>(token[pos]);
    if (len == 1) cp = b0;
    if (len == 2) cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(token[pos + 1]) & 0x3Fu);
    if (cp >= kMaxMapped || t.cp_to_byte[cp] == kNoByte) {
      out->append(token);
      return;
    }
    bytes.push_back(static_cast<char>(t.cp_to_byte[cp]));
    pos += len;
  }
  out->append(bytes);
}

}  // namespace podserve::tokenizer_internal
