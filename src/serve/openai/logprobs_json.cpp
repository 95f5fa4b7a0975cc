#include "serve/openai/logprobs_json.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cmath>

namespace podserve::openai {
namespace {

namespace json = boost::json;

constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";  // U+FFFD

/// vLLM clamps logprobs at -9999 (so -inf never reaches JSON).
double clamp_logprob(float lp) { return std::isfinite(lp) ? std::max(static_cast<double>(lp), -9999.0) : -9999.0; }

/// Length of the valid UTF-8 sequence starting at s[i], or the length of its maximal invalid prefix (>= 1) as a
/// negative number: Python replaces each maximal subpart of an ill-formed sequence with one U+FFFD.
int utf8_sequence(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int k = 1; k < len; ++k) {
    if (i + static_cast<size_t>(k) >= s.size()) return -k;
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return -k;
  }
  return len;
}

json::array byte_list(std::string_view bytes) {
  json::array out;
  out.reserve(bytes.size());
  for (char c : bytes) out.emplace_back(static_cast<int>(static_cast<unsigned char>(c)));
  return out;
}

/// One chat logprob entry: {token, logprob, bytes}.
json::object chat_entry(int32_t token, float logprob, const TokenBytesFn& bytes) {
  const std::string raw = bytes(token);
  json::object o;
  o["token"] = utf8_replace(raw);
  o["logprob"] = clamp_logprob(logprob);
  o["bytes"] = byte_list(raw);
  return o;
}

}  // namespace

std::string utf8_replace(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const int n = utf8_sequence(bytes, i);
    if (n > 0) {
      out.append(bytes.substr(i, static_cast<size_t>(n)));
      i += static_cast<size_t>(n);
    } else {
      out.append(kUtf8Replacement);
      i += static_cast<size_t>(-n);
    }
  }
  return out;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

json::value chat_logprobs_json(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n) {
  json::array content;
  for (const TokenLogprobs& lp : tokens) {
    json::object entry = chat_entry(lp.token, lp.logprob, bytes);
    json::array top;
    for (size_t i = 0; i < lp.top.size() && static_cast<int>(i) < top_n; ++i) {
      top.emplace_back(chat_entry(lp.top[i].first, lp.top[i].second, bytes));
    }
    entry["top_logprobs"] = std::move(top);
    content.emplace_back(std::move(entry));
  }
  json::object o;
  o["content"] = std::move(content);
  return o;
}

namespace {

/// The four parallel arrays of the legacy completions shape, filled one token at a time.
struct CompletionLogprobsBuilder {
  const TokenBytesFn& bytes;
  int top_n;
  size_t* text_offset;
  json::array offsets, token_logprobs, token_texts, tops;

  void add_text(const std::string& text) {
    offsets.emplace_back(*text_offset);
    *text_offset += utf8_length(text);
    token_texts.emplace_back(text);
  }
  /// A token nothing predicts (an echoed prompt's first): null logprob and null top_logprobs, as vLLM.
  void add_unscored(int32_t token) {
    add_text(utf8_replace(bytes(token)));
    token_logprobs.emplace_back(nullptr);
    tops.emplace_back(nullptr);
  }
  void add(const TokenLogprobs& lp) {
    const std::string text = utf8_replace(bytes(lp.token));
    add_text(text);
    token_logprobs.emplace_back(clamp_logprob(lp.logprob));
    // As vLLM: the chosen token first, then up to top_n alternatives (one key per distinct text).
    json::object top;
    top[text] = clamp_logprob(lp.logprob);
    for (size_t i = 0; i < lp.top.size() && static_cast<int>(i) < top_n; ++i) {
      std::string alt = utf8_replace(bytes(lp.top[i].first));
      if (!top.contains(alt)) top[alt] = clamp_logprob(lp.top[i].second);
    }
    tops.emplace_back(std::move(top));
  }
  json::value finish() {
    json::object o;
    o["text_offset"] = std::move(offsets);
    o["token_logprobs"] = std::move(token_logprobs);
    o["tokens"] = std::move(token_texts);
    o["top_logprobs"] = std::move(tops);
    return o;
  }
};

}  // namespace

json::value completion_logprobs_json(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                                     size_t* text_offset) {
  CompletionLogprobsBuilder b{bytes, top_n, text_offset, {}, {}, {}, {}};
  for (const TokenLogprobs& lp : tokens) b.add(lp);
  return b.finish();
}

json::value completion_echo_logprobs_json(int32_t first_prompt_token, std::span<const TokenLogprobs> prompt,
                                          std::span<const TokenLogprobs> generated, const TokenBytesFn& bytes,
                                          int top_n, size_t* text_offset) {
  CompletionLogprobsBuilder b{bytes, top_n, text_offset, {}, {}, {}, {}};
  b.add_unscored(first_prompt_token);
  for (const TokenLogprobs& lp : prompt) b.add(lp);
  for (const TokenLogprobs& lp : generated) b.add(lp);
  return b.finish();
}

json::value prompt_logprobs_json(std::span<const TokenLogprobs> positions, const TokenBytesFn& bytes) {
  json::array out;
  out.emplace_back(nullptr);
  auto entry = [&bytes](int32_t token, float logprob, int rank) {
    json::object e;
    e["logprob"] = clamp_logprob(logprob);
    e["rank"] = rank;
    e["decoded_token"] = utf8_replace(bytes(token));
    return e;
  };
  for (const TokenLogprobs& lp : positions) {
    json::object o;
    o[std::to_string(lp.token)] = entry(lp.token, lp.logprob, lp.rank);
    for (size_t i = 0; i < lp.top.size(); ++i) {
      const std::string key = std::to_string(lp.top[i].first);
      if (!o.contains(key)) o[key] = entry(lp.top[i].first, lp.top[i].second, static_cast<int>(i) + 1);
    }
    out.emplace_back(std::move(o));
  }
  return out;
}

}  // namespace podserve::openai
