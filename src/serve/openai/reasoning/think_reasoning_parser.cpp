// deepseek_r1 (vLLM's DeepSeekR1ReasoningParser over BaseThinkingReasoningParser): `<think>` ... `</think>`,
// both single tokens. Output without `<think>` counts as already reasoning (R1's template puts `<think>` in
// the prompt); without `</think>` everything is reasoning. deepseek_v3: the same when the chat template kwargs
// turn thinking on (`thinking` or `enable_thinking`), else everything is content.
#include <algorithm>

#include "chat/py_string.h"

#include "serve/openai/reasoning/reasoning_parser.h"

namespace podserve::openai {
namespace {

constexpr std::string_view kThinkStartTag = "<think>";
constexpr std::string_view kThinkEndTag = "</think>";

bool contains(std::span<const int32_t> ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

DeltaMessage reasoning_delta(std::string r, std::optional<std::string> content = std::nullopt, bool with_content = false) {
  DeltaMessage m;
  m.reasoning = Field::of(std::move(r));
  if (with_content) m.content = content ? Field::of(*content) : Field::null();
  return m;
}
DeltaMessage content_delta(std::string_view c) {
  DeltaMessage m;
  m.content = Field::of(std::string(c));
  return m;
}

class DeepSeekR1ReasoningParser final : public ReasoningParser {
 public:
  DeepSeekR1ReasoningParser(int32_t start, int32_t end) : start_id_(start), end_id_(end) {}

  ReasoningSplit extract(std::string_view output) const override {
    const size_t s = output.find(kThinkStartTag);
    if (s != std::string_view::npos) output = output.substr(s + kThinkStartTag.size());
    const size_t e = output.find(kThinkEndTag);
    if (e == std::string_view::npos) return {std::string(output), std::nullopt};
    ReasoningSplit r{std::string(output.substr(0, e)), std::nullopt};
    if (e + kThinkEndTag.size() < output.size()) r.content = std::string(output.substr(e + kThinkEndTag.size()));
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    const std::string_view delta = step.delta_text;
    if (step.delta_ids.size() == 1 && (step.delta_ids[0] == start_id_ || step.delta_ids[0] == end_id_)) {
      return std::nullopt;
    }
    const bool start_before = contains(step.previous_ids, start_id_);
    const bool start_now = contains(step.delta_ids, start_id_);
    const bool end_now = contains(step.delta_ids, end_id_);
    const bool end_before = contains(step.previous_ids, end_id_);
    if (!start_before && start_now && end_now) {
      return split_at(delta, true);
    }
    if (!start_before && start_now) return reasoning_delta(std::string(delta));
    // No start marker in the output (DeepSeek-R1 puts it in the prompt), or one seen before: the same rules.
    if (end_now) return split_at(delta, std::nullopt);
    if (end_before) return content_delta(delta);
    return reasoning_delta(std::string(delta));
  }

  bool is_reasoning_end(std::span<const int32_t> ids) const override {
    for (size_t i = ids.size(); i-- > 0;) {
      if (ids[i] == start_id_) return false;
      if (ids[i] == end_id_) return true;
    }
    return false;
  }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t> delta) const override {
    return contains(delta, end_id_);
  }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    if (ids.empty() || !contains(ids.first(ids.size() - 1), end_id_)) return {};
    auto it = std::find(ids.begin(), ids.end(), end_id_);
    return std::vector<int32_t>(it + 1, ids.end());
  }
  int count_reasoning_tokens(std::span<const int32_t> ids) const override {
    int count = 0;
    int depth = 0;
    for (int32_t id : ids) {
      if (id == start_id_) {
        ++depth;
      } else if (id == end_id_) {
        if (depth > 0) --depth;
      } else if (depth > 0) {
        ++count;
      }
    }
    return count;
  }

 private:
  /// Reasoning from code point `from` (Python's slice start) up to the end marker, content after it (null
  /// when empty). The marker text may be missing although its id is there (special tokens skipped): Python's
  /// find() then gives -1 and the slices count from the end, which this reproduces on code points.
  static DeltaMessage split_at(std::string_view delta, std::optional<size_t> start_marker) {
    const std::u32string cps = jinja::utf8_decode(delta);
    const auto n = static_cast<int64_t>(cps.size());
    auto cp_index = [&](size_t byte_pos) { return static_cast<int64_t>(jinja::utf8_decode(delta.substr(0, byte_pos)).size()); };
    const size_t e = delta.find(kThinkEndTag);
    const int64_t end = e == std::string_view::npos ? -1 : cp_index(e);
    int64_t from = 0;
    if (start_marker) {
      const size_t s = delta.find(kThinkStartTag);
      from = (s == std::string_view::npos ? -1 : cp_index(s)) + static_cast<int64_t>(kThinkStartTag.size());
    }
    auto norm = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
    const int64_t r0 = norm(from);
    const int64_t r1 = norm(end);
    const int64_t c0 = norm(end + static_cast<int64_t>(kThinkEndTag.size()));
    std::string reasoning = r1 > r0 ? jinja::utf8_encode(std::u32string_view(cps).substr(r0, r1 - r0)) : std::string();
    std::string content = jinja::utf8_encode(std::u32string_view(cps).substr(c0));
    return reasoning_delta(std::move(reasoning), content.empty() ? std::nullopt : std::optional(content), true);
  }

  int32_t start_id_;
  int32_t end_id_;
};

/// Everything is content (vLLM's IdentityReasoningParser).
class IdentityReasoningParser final : public ReasoningParser {
 public:
  ReasoningSplit extract(std::string_view output) const override { return {std::nullopt, std::string(output)}; }
  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    if (step.delta_text.empty()) return std::nullopt;
    return content_delta(step.delta_text);
  }
  bool is_reasoning_end(std::span<const int32_t>) const override { return true; }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t>) const override { return true; }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    return std::vector<int32_t>(ids.begin(), ids.end());
  }
  int count_reasoning_tokens(std::span<const int32_t>) const override { return 0; }
};

Result<std::unique_ptr<ReasoningParser>> make_r1(const ReasoningParserContext& ctx, std::string_view class_name) {
  std::optional<int32_t> start = ctx.vocab->token_id(kThinkStartTag);
  std::optional<int32_t> end = ctx.vocab->token_id(kThinkEndTag);
  if (!start || !end) {
    return invalid_argument(std::string(class_name) +
                            " reasoning parser could not locate think start/end tokens in the tokenizer!");
  }
  return std::unique_ptr<ReasoningParser>(std::make_unique<DeepSeekR1ReasoningParser>(*start, *end));
}

bool kwarg_true(const boost::json::object* kwargs, std::string_view key) {
  if (kwargs == nullptr) return false;
  const boost::json::value* v = kwargs->if_contains(key);
  if (v == nullptr || v->is_null()) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string()) return !v->get_string().empty();
  if (v->is_int64()) return v->get_int64() != 0;
  if (v->is_uint64()) return v->get_uint64() != 0;
  if (v->is_double()) return v->get_double() != 0.0;
  if (v->is_array()) return !v->get_array().empty();
  return !v->get_object().empty();  // Python bool() of a container
}

}  // namespace

std::unique_ptr<ReasoningParser> make_identity_reasoning_parser() { return std::make_unique<IdentityReasoningParser>(); }

Result<std::unique_ptr<ReasoningParser>> make_deepseek_r1_reasoning_parser(const ReasoningParserContext& ctx) {
  return make_r1(ctx, "DeepSeekR1ReasoningParser");
}

Result<std::unique_ptr<ReasoningParser>> make_deepseek_v3_reasoning_parser(const ReasoningParserContext& ctx) {
  if (kwarg_true(ctx.chat_template_kwargs, "thinking") || kwarg_true(ctx.chat_template_kwargs, "enable_thinking")) {
    return make_r1(ctx, "DeepSeekR1ReasoningParser");
  }
  return std::unique_ptr<ReasoningParser>(std::make_unique<IdentityReasoningParser>());
}

}  // namespace podserve::openai
