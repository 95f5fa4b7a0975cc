#include "tokenizer/special_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

// Decodes the character starting at `pos` (valid UTF-8 assumed by the caller; invalid bytes give -1).
int32_t char_at(std::string_view s, size_t pos, size_t* len) {
  *len = utf8_valid_length(s, pos);
  if (*len == 0) {
    *len = 1;
    return -1;
  }
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(s[pos + i])); };
  switch (*len) {
    case 1: return static_cast<int32_t>(b(0));
    case 2: return static_cast<int32_t>(((b(0) & 0x1F) << 6) | (b(1) & 0x3F));
    case 3: return static_cast<int32_t>(((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F));
    default:
      return static_cast<int32_t>(((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F));
  }
}

// Rust char::is_whitespace (Unicode White_Space).
bool is_space(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Word characters for single_word: ASCII alphanumerics, '_' and every non-ASCII, non-space character.
bool is_word_char(int32_t c) {
  if (c < 0) return false;
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return !is_space(c);
}

// Start of the character that ends just before `pos`.
size_t prev_char_start(std::string_view s, size_t pos) {
  size_t p = pos - 1;
  while (p > 0 && pos - p < 4 && (static_cast<uint8_t>(s[p]) & 0xC0) == 0x80) --p;
  return p;
}

}  // namespace

void SpecialTokenMatcher::add(std::string_view text, int32_t id, Options options) {
  if (text.empty()) return;
  auto& bucket = by_first_byte_[static_cast<uint8_t>(text[0])];
  // Keep longest first (stable for equal lengths, so the first registered spelling wins a tie). Searching from
  // the back makes registering in order of decreasing length (as Tokenizer::create does) linear.
  auto at = bucket.end();
  while (at != bucket.begin() && std::prev(at)->text.size() < text.size()) --at;
  bucket.insert(at, Entry{std::string(text), id, options});
  ++count_;
}

void SpecialTokenMatcher::split(std::string_view text, std::vector<Segment>* out) const {
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const Entry* hit = nullptr;
    for (const Entry& e : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if (text.substr(pos, e.text.size()) != e.text) continue;
      if (e.options.single_word) {
        size_t len = 0;
        const bool word_before = pos > 0 && is_word_char(char_at(text, prev_char_start(text, pos), &len));
        const size_t after = pos + e.text.size();
        const bool word_after = after < text.size() && is_word_char(char_at(text, after, &len));
        if (word_before || word_after) continue;
      }
      hit = &e;
      break;
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t begin = pos, end = pos + hit->text.size();
    if (hit->options.lstrip) {
      while (begin > plain_start) {
        const size_t p = prev_char_start(text, begin);
        size_t len = 0;
        if (!is_space(char_at(text, p, &len)) || p + len != begin) break;
        begin = p;
      }
    }
    if (hit->options.rstrip) {
      size_t len = 0;
      while (end < text.size() && is_space(char_at(text, end, &len))) end += len;
    }
    if (begin > plain_start) out->push_back({text.substr(plain_start, begin - plain_start), -1});
    out->push_back({text.substr(begin, end - begin), hit->id});
    pos = plain_start = end;
  }
  if (plain_start < text.size()) out->push_back({text.substr(plain_start), -1});
}

}  // namespace podserve::tokenizer_internal
