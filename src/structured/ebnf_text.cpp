#include "structured/ebnf_text.h"

#include <algorithm>

#include "base/utf8.h"

namespace podserve::structured {

void CodepointSet::add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return;
  std::vector<Range> out;
  out.reserve(ranges_.size() + 1);
  size_t i = 0;
  while (i < ranges_.size() && ranges_[i].hi + 1 < lo) out.push_back(ranges_[i++]);
  Range merged{lo, hi};
  while (i < ranges_.size() && ranges_[i].lo <= static_cast<uint64_t>(hi) + 1) {
    merged.lo = std::min(merged.lo, ranges_[i].lo);
    merged.hi = std::max(merged.hi, ranges_[i].hi);
    ++i;
  }
  out.push_back(merged);
  while (i < ranges_.size()) out.push_back(ranges_[i++]);
  ranges_ = std::move(out);
}

void CodepointSet::add(const CodepointSet& other) {
  for (const Range& r : other.ranges_) add(r.lo, r.hi);
}

CodepointSet CodepointSet::complement() const {
  CodepointSet out;
  uint32_t next = 0;
  for (const Range& r : ranges_) {
    if (r.lo > next) out.ranges_.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodepoint) out.ranges_.push_back({next, kMaxCodepoint});
  return out;
}

CodepointSet CodepointSet::minus(const CodepointSet& other) const {
  CodepointSet inv = other.complement();
  CodepointSet out;
  for (const Range& a : ranges_) {
    for (const Range& b : inv.ranges_) {
      const uint32_t lo = std::max(a.lo, b.lo), hi = std::min(a.hi, b.hi);
      if (lo <= hi) out.ranges_.push_back({lo, hi});
    }
  }
  return out;
}

bool CodepointSet::contains(uint32_t cp) const {
  for (const Range& r : ranges_)
    if (cp >= r.lo && cp <= r.hi) return true;
  return false;
}

namespace {

void append_hex_escape(uint32_t cp, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  if (cp <= 0xFF) {
    *out += "\\x";
    out->push_back(kHex[cp >> 4]);
    out->push_back(kHex[cp & 15]);
  } else {
    *out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(cp >> shift) & 15]);
  }
}

// One code point inside a literal (`in_class` false) or a character class.
void append_char(uint32_t cp, bool in_class, std::string* out) {
  switch (cp) {
    case '\\': *out += "\\\\"; return;
    case '\n': *out += "\\n"; return;
    case '\r': *out += "\\r"; return;
    case '\t': *out += "\\t"; return;
    default: break;
  }
  if (cp < 0x20 || cp == 0x7F || (cp >= 0xD800 && cp <= 0xDFFF)) {
    append_hex_escape(cp, out);
  } else if (!in_class && cp == '"') {
    *out += "\\\"";
  } else if (in_class && (cp == ']' || cp == '-' || cp == '^' || cp == '[')) {
    out->push_back('\\');
    out->push_back(static_cast<char>(cp));
  } else {
    utf8_append_codepoint(cp, out);
  }
}

std::string class_body(const CodepointSet& set) {
  std::string out;
  for (const auto& r : set.ranges()) {
    append_char(r.lo, true, &out);
    if (r.hi == r.lo) continue;
    if (r.hi > r.lo + 1) out.push_back('-');
    append_char(r.hi, true, &out);
  }
  return out;
}

}  // namespace

std::string ebnf_literal(std::string_view utf8) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < utf8.size()) append_char(utf8_decode_next(utf8, &pos), false, &out);
  out.push_back('"');
  return out;
}

std::string ebnf_class(const CodepointSet& set) {
  std::string positive = class_body(set);
  const CodepointSet inverse = set.complement();
  if (inverse.empty()) return "[^]";
  std::string negative = class_body(inverse);
  if (negative.size() < positive.size()) return "[^" + negative + "]";
  return "[" + positive + "]";
}

}  // namespace podserve::structured
