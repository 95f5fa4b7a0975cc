// granite (vLLM's GraniteReasoningParser): IBM Granite writes "Here is my thought process:" ... "Here is my
// response:" ("Here's" too) as plain text. Whole output: the reasoning between the first pair of markers, the
// rest content; no markers, all content. Streaming keys on the text alone and holds back partial markers; its
// slicing quirks are kept (one character before the response marker is dropped; a first empty reasoning counts
// as none). It has no token-id end detection (vLLM's base answers None): reasoning never "ends" for the stream's
// tool phase nor for structured outputs, and no reasoning tokens are counted.
#include "chat/py_string.h"
#include "serve/openai/reasoning/reasoning_parser.h"

namespace podserve::openai {
namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

constexpr U32View kThinkStarts[] = {U"Here's my thought process:", U"Here is my thought process:"};
constexpr U32View kResponseStarts[] = {U"Here's my response:", U"Here is my response:"};
constexpr U32View kBoundaryStart = U"Here";

int64_t py_len(U32View s) { return static_cast<int64_t>(s.size()); }

/// s[start:end] with Python's clamping of negative and out-of-range bounds.
U32 slice(U32View s, int64_t start, std::optional<int64_t> end = std::nullopt) {
  const int64_t n = py_len(s);
  auto norm = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  const int64_t b = norm(start);
  const int64_t e = end ? norm(*end) : n;
  return e > b ? U32(s.substr(static_cast<size_t>(b), static_cast<size_t>(e - b))) : U32();
}

/// Some marker starts with `text` (the empty text included).
template <size_t N>
bool prefix_of_any(const U32View (&markers)[N], U32View text) {
  for (U32View m : markers) {
    if (m.substr(0, text.size()) == text) return true;
  }
  return false;
}

std::optional<std::string> utf8(const std::optional<U32>& s) {
  if (!s) return std::nullopt;
  return jinja::utf8_encode(*s);
}

/// DeltaMessage(reasoning=..., content=...): both fields set, null where None.
DeltaMessage delta_of(const std::optional<U32>& reasoning, const std::optional<U32>& content) {
  DeltaMessage m;
  m.reasoning = reasoning ? Field::of(*utf8(reasoning)) : Field::null();
  m.content = content ? Field::of(*utf8(content)) : Field::null();
  return m;
}

struct Sections {
  std::optional<U32> reasoning;
  int64_t response_marker_len = 0;
  std::optional<U32> content;
};

/// _get_content_sections: the text must start with a thought-process marker; a response marker closes it.
Sections content_sections(U32View text) {
  std::optional<int64_t> start_reasoning;
  for (int64_t end = 0; end < py_len(text); ++end) {
    if (text[static_cast<size_t>(end)] != U':') continue;
    const U32 chunk = slice(text, 0, end);
    if (!start_reasoning) {
      for (U32View think : kThinkStarts) {
        if (chunk == think.substr(0, think.size() - 1)) {
          start_reasoning = end + 1;
          break;
        }
      }
      continue;
    }
    // The chunk now runs from the reasoning start (the search restarted there).
    const U32 since = slice(text, *start_reasoning, end);
    for (U32View response : kResponseStarts) {
      if (slice(since, -py_len(response) + 1) == response.substr(0, response.size() - 1)) {
        return {slice(text, *start_reasoning, end - py_len(response)), py_len(response), slice(text, end + 1)};
      }
    }
  }
  if (start_reasoning) return {slice(text, *start_reasoning), 0, std::nullopt};
  return {};
}

class GraniteReasoningParser final : public ReasoningParser {
 public:
  ReasoningSplit extract(std::string_view output) const override {
    const U32 s = jinja::utf8_decode(output);
    // `(?:Here's|Here is) my thought process:(.*?)(?:Here's|Here is) my response:(.*)`, first match.
    auto find_first = [&](const auto& markers, size_t from) -> std::pair<size_t, size_t> {
      for (size_t p = from; p < s.size(); ++p) {
        for (U32View m : markers) {
          if (U32View(s).substr(p, m.size()) == m) return {p, m.size()};
        }
      }
      return {U32::npos, 0};
    };
    const auto [think, think_len] = find_first(kThinkStarts, 0);
    if (think == U32::npos) return {std::nullopt, std::string(output)};
    const auto [response, response_len] = find_first(kResponseStarts, think + think_len);
    if (response == U32::npos) return {std::nullopt, std::string(output)};
    ReasoningSplit r;
    r.reasoning = jinja::utf8_encode(U32View(s).substr(think + think_len, response - think - think_len));
    const U32View content = U32View(s).substr(response + response_len);
    if (!content.empty()) r.content = jinja::utf8_encode(content);
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    const U32 current = jinja::utf8_decode(step.current_text);
    const U32 delta = jinja::utf8_decode(step.delta_text);
    const Sections sec = content_sections(current);
    DeltaMessage m;
    if (!sec.reasoning || sec.reasoning->empty()) {
      m = no_reasoning_bounds(current, delta);
    } else if (!sec.content || sec.content->empty()) {
      m = no_response_bounds(current, *sec.reasoning, delta);
    } else {
      m = both_bounds(delta, *sec.reasoning, *sec.content, current, sec.response_marker_len);
    }
    const bool has_content = m.content.has_value() && !m.content.value->empty();
    const bool has_reasoning = m.reasoning.has_value() && !m.reasoning.value->empty();
    if (!has_content && !has_reasoning) return std::nullopt;
    return m;
  }

  bool is_reasoning_end(std::span<const int32_t>) const override { return false; }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t>) const override { return false; }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t>) const override { return {}; }
  int count_reasoning_tokens(std::span<const int32_t>) const override { return 0; }

 private:
  static DeltaMessage no_reasoning_bounds(U32View current, U32View delta) {
    const bool is_prefix = prefix_of_any(kThinkStarts, current);
    const bool was_prefix = prefix_of_any(kThinkStarts, slice(current, 0, py_len(current) - py_len(delta)));
    if (was_prefix && !is_prefix) return delta_of(std::nullopt, U32(current));
    if (is_prefix) return delta_of(std::nullopt, std::nullopt);
    return delta_of(std::nullopt, U32(delta));
  }

  static DeltaMessage no_response_bounds(U32View current, const U32& reasoning, U32View delta) {
    for (U32View response : kResponseStarts) {
      if (current.size() >= response.size() && current.substr(current.size() - response.size()) == response) {
        return delta_of(std::nullopt, std::nullopt);
      }
    }
    const U32 previous = slice(reasoning, 0, -py_len(delta));  // reasoning[:-py_len(delta)]: "" for an empty delta
    const auto rfind = [](U32View s, U32View sub) -> int64_t {
      const size_t p = s.rfind(sub);
      return p == U32View::npos ? -1 : static_cast<int64_t>(p);
    };
    const int64_t prev_idx = rfind(previous, kBoundaryStart);
    const int64_t delta_idx = rfind(delta, kBoundaryStart);
    const bool prev_was = prev_idx >= 0 && prefix_of_any(kResponseStarts, slice(previous, prev_idx));
    const bool continues = prev_idx >= 0 && prefix_of_any(kResponseStarts, slice(reasoning, prev_idx));
    const bool delta_new = delta_idx >= 0 && prefix_of_any(kResponseStarts, slice(delta, delta_idx));
    if (continues) return delta_of(std::nullopt, std::nullopt);
    if (!prev_was) {
      if (delta_new) return delta_of(slice(delta, 0, delta_idx), std::nullopt);
      return delta_of(U32(delta), std::nullopt);
    }
    if (delta_new) return delta_of(slice(previous, prev_idx) + slice(delta, 0, delta_idx), std::nullopt);
    return delta_of(slice(previous, prev_idx) + U32(delta), std::nullopt);
  }

  static DeltaMessage both_bounds(U32View delta, const U32& reasoning, const U32& content, U32View current,
                                  int64_t marker_len) {
    const U32 delta_content = slice(delta, -py_len(content));
    const int64_t reasoning_end = py_len(delta) - (py_len(content) + marker_len);
    std::optional<U32> delta_reasoning;
    if (reasoning_end >= 0) {
      const int64_t start_reasoning = py_len(reasoning) + marker_len + py_len(content) - 1;
      const int64_t start_offset = std::max<int64_t>(0, start_reasoning - (py_len(current) - py_len(delta)));
      delta_reasoning = slice(delta, start_offset, reasoning_end);
    }
    return delta_of(delta_reasoning, delta_content);
  }
};

}  // namespace

Result<std::unique_ptr<ReasoningParser>> make_granite_reasoning_parser(const ReasoningParserContext&) {
  return std::unique_ptr<ReasoningParser>(std::make_unique<GraniteReasoningParser>());
}

}  // namespace podserve::openai
