#include "tokenizer/decoder.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

using DecoderKind = DecoderStep::Kind;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xHH>" -> the byte, else -1 (HF ByteFallback: exactly 6 characters).
int byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  const int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::vector<std::string> byte_fallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  std::string bytes;
  const auto flush = [&] {
    if (bytes.empty()) return;
    if (utf8_lossy(bytes) == bytes) {
      out.push_back(bytes);
    } else {  // an invalid run: one U+FFFD per byte
      std::string bad;
      for (size_t i = 0; i < bytes.size(); ++i) bad += kReplacementChar;
      out.push_back(bad);
    }
    bytes.clear();
  };
  for (std::string& t : tokens) {
    const int b = byte_token(t);
    if (b >= 0) {
      bytes.push_back(static_cast<char>(b));
      continue;
    }
    flush();
    out.push_back(std::move(t));
  }
  flush();
  return out;
}

// Removes up to `start` leading and `stop` trailing occurrences of the character `content`.
std::string strip(std::string s, std::string_view content, int start, int stop) {
  if (content.empty()) return s;
  size_t b = 0, e = s.size();
  for (int i = 0; i < start && s.compare(b, content.size(), content) == 0 && b + content.size() <= e; ++i) {
    b += content.size();
  }
  for (int i = 0; i < stop && e >= b + content.size() && s.compare(e - content.size(), content.size(), content) == 0;
       ++i) {
    e -= content.size();
  }
  return s.substr(b, e - b);
}

}  // namespace

std::string Decoder::decode(const std::vector<std::string_view>& input) const {
  std::vector<std::string> tokens(input.begin(), input.end());
  if (steps_.empty()) {  // HF without a decoder joins with spaces
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return utf8_lossy(out);
  }
  for (const DecoderStep& step : steps_) {
    switch (step.kind) {
      case DecoderKind::kByteLevel: {
        std::string bytes;
        for (const std::string& t : tokens) byte_level_token_to_bytes(t, &bytes);
        tokens.assign(1, utf8_lossy(bytes));
        break;
      }
      case DecoderKind::kReplace:
        for (std::string& t : tokens) {
          std::string r;
          replace_all(t, step.pattern, step.content, &r);
          t.swap(r);
        }
        break;
      case DecoderKind::kByteFallback:
        tokens = byte_fallback(std::move(tokens));
        break;
      case DecoderKind::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case DecoderKind::kStrip:
        for (std::string& t : tokens) t = strip(std::move(t), step.content, step.start, step.stop);
        break;
      case DecoderKind::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          std::string r;
          replace_all(tokens[i], step.replacement, " ", &r);
          if (i == 0 && step.prepend && !r.empty() && r[0] == ' ') r.erase(0, 1);
          tokens[i].swap(r);
        }
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return utf8_lossy(out);
}

}  // namespace podserve::tokenizer_internal
