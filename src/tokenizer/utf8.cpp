#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

// Result of inspecting one sequence: `len` bytes form a valid character, or the first `len` bytes are a
// maximal invalid subpart (`valid` false); `truncated` means the input ended inside a plausible sequence.
struct SeqInfo {
  size_t len;
  bool valid;
  bool truncated;
};

SeqInfo inspect(std::string_view s, size_t pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) return {1, true, false};
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (excludes overlongs and surrogates)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {1, false, false};  // continuation byte or a lead byte that never starts a valid sequence
  }
  for (size_t i = 1; i < need; ++i) {
    if (pos + i >= s.size()) return {i, false, true};
    const auto b = static_cast<uint8_t>(s[pos + i]);
    const uint8_t min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return {i, false, false};
  }
  return {need, true, false};
}

}  // namespace

size_t utf8_valid_length(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const SeqInfo info = inspect(s, pos);
  return info.valid ? info.len : 0;
}

size_t utf8_append_lossy(std::string_view in, bool final, std::string* out) {
  size_t pos = 0;
  while (pos < in.size()) {
    const SeqInfo info = inspect(in, pos);
    if (info.valid) {
      out->append(in.substr(pos, info.len));
    } else {
      if (info.truncated && !final) break;  // may still complete with later bytes
      out->append(kReplacementChar);
    }
    pos += info.len;
  }
  return pos;
}

std::string utf8_lossy(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  utf8_append_lossy(in, /*final=*/true, &out);
  return out;
}

}  // namespace podserve::tokenizer_internal
