// qwen3 (vLLM's Qwen3Parser reasoning adapter over its declarative ParserEngine, tool parsing skipped):
// `<think>` ... `</think>`. Output starts in reasoning (Qwen3's template opens `<think>` in the prompt), so a
// missing start marker changes nothing; a repeated `<think>` is dropped, as is a `</think>` after reasoning
// ended. `<tool_call>` ends reasoning implicitly and stays content. With chat_template_kwargs
// `enable_thinking` false (present and falsy), everything is content and reasoning is over from the start.
// Markers are matched by token id when ids are given (a marker spelled in prose is then text), by text
// otherwise; streamed text that may still become a marker is held back (the engine's lexer).
#include <algorithm>

#include "serve/openai/reasoning/reasoning_parser.h"
#include "serve/openai/tools/qwen3_markup.h"

namespace podserve::openai {
namespace {

bool truthy(const boost::json::value& v) {
  if (v.is_null()) return false;
  if (v.is_bool()) return v.get_bool();
  if (v.is_string()) return !v.get_string().empty();
  if (v.is_int64()) return v.get_int64() != 0;
  if (v.is_uint64()) return v.get_uint64() != 0;
  if (v.is_double()) return v.get_double() != 0.0;
  if (v.is_array()) return !v.get_array().empty();
  return !v.get_object().empty();
}

class Qwen3ReasoningParser final : public ReasoningParser {
 public:
  Qwen3ReasoningParser(bool thinking, const ParserVocab& vocab)
      : thinking_(thinking), stream_(qwen3::literals(), qwen3::marker_tokens(&vocab)) {
    for (std::string_view b : {"<|im_start|>", "<|im_end|>"}) {
      if (std::optional<int32_t> id = vocab.token_id(b)) boundaries_.push_back(*id);
    }
    reset();
  }

  ReasoningSplit extract(std::string_view output) const override {
    if (!thinking_) return {std::nullopt, std::string(output)};
    Qwen3ReasoningParser p(*this);
    p.reset();
    Out out;
    p.feed(output, {}, out);
    p.finish(out);
    ReasoningSplit r;
    if (!out.reasoning.empty()) r.reasoning = std::move(out.reasoning);
    if (!out.content.empty()) r.content = std::move(out.content);
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    Out out;
    feed(step.delta_text, step.delta_ids, out);
    return out.delta();
  }
  bool engine_based() const override { return true; }
  bool confirmed_reasoning_end() const override { return ended_; }
  std::optional<DeltaMessage> finish_streaming() override {
    Out out;
    finish(out);
    return out.delta();
  }

  bool is_reasoning_end(std::span<const int32_t> ids) const override {
    if (!thinking_) return true;
    for (size_t i = ids.size(); i-- > 0;) {
      if (is_end_id(ids[i])) return true;
      if (ids[i] == id_of(qwen3::kThinkStart)) return false;
      if (std::find(boundaries_.begin(), boundaries_.end(), ids[i]) != boundaries_.end()) break;
    }
    return false;
  }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t> delta) const override {
    return std::any_of(delta.begin(), delta.end(), [this](int32_t id) { return is_end_id(id); });
  }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    if (!thinking_) return {ids.begin(), ids.end()};
    const std::optional<int32_t> end = id_of(qwen3::kThinkEnd);
    for (size_t i = ids.size(); end && i-- > 0;) {
      if (ids[i] == *end) return {ids.begin() + static_cast<std::ptrdiff_t>(i) + 1, ids.end()};
    }
    size_t turn = 0;
    for (size_t i = ids.size(); i-- > 0;) {
      if (std::find(boundaries_.begin(), boundaries_.end(), ids[i]) != boundaries_.end()) {
        turn = i + 1;
        break;
      }
    }
    for (size_t i = turn; i < ids.size(); ++i) {
      if (is_end_id(ids[i])) return {ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end()};
    }
    return {ids.begin(), ids.end()};
  }
  /// Tokens before the first end marker, start markers excluded (the engine never re-enters reasoning).
  int count_reasoning_tokens(std::span<const int32_t> ids) const override {
    if (!thinking_) return 0;
    int n = 0;
    for (int32_t id : ids) {
      if (is_end_id(id)) break;
      if (id != id_of(qwen3::kThinkStart)) ++n;
    }
    return n;
  }
  bool end_token_is_output(int32_t token) const override { return token == id_of(qwen3::kToolStart); }

 private:
  struct Out {
    std::string reasoning;
    std::string content;
    std::optional<DeltaMessage> delta() const {
      if (reasoning.empty() && content.empty()) return std::nullopt;
      DeltaMessage m;
      if (!content.empty()) m.content = Field::of(content);
      if (!reasoning.empty()) m.reasoning = Field::of(reasoning);
      return m;
    }
  };

  std::optional<int32_t> id_of(int terminal) const { return stream_.id_of(terminal); }
  bool is_end_id(int32_t id) const { return id == id_of(qwen3::kThinkEnd) || id == id_of(qwen3::kToolStart); }

  void reset() {
    reasoning_ = thinking_;
    ended_ = !thinking_;
    stream_.reset();
  }

  void text(std::string_view t, Out& out) { (reasoning_ ? out.reasoning : out.content).append(t); }

  void terminal(int t, std::string_view spelling, Out& out) {
    if (reasoning_) {
      if (t == qwen3::kThinkStart) return;
      if (t == qwen3::kThinkEnd || t == qwen3::kToolStart) {
        reasoning_ = false;
        ended_ = true;
        if (t == qwen3::kToolStart) out.content.append(spelling);
        return;
      }
    } else if (t == qwen3::kThinkEnd) {
      return;
    }
    text(spelling, out);
  }

  void feed(std::string_view delta, std::span<const int32_t> ids, Out& out) {
    stream_.feed(delta, ids, sink(out));
  }
  TerminalStream::Sink sink(Out& out) {
    return [this, &out](int t, std::string_view s) { t == LexPiece::kContent ? text(s, out) : terminal(t, s, out); };
  }

  void finish(Out& out) {
    stream_.flush(sink(out));
    if (reasoning_) {
      reasoning_ = false;
      ended_ = true;
    }
  }

  bool thinking_;
  TerminalStream stream_;
  std::vector<int32_t> boundaries_;
  bool reasoning_ = true;  // the engine's state: REASONING, else CONTENT
  bool ended_ = false;
};

}  // namespace

Result<std::unique_ptr<ReasoningParser>> make_qwen3_reasoning_parser(const ReasoningParserContext& ctx) {
  // vLLM: chat_template_kwargs.get("enable_thinking", True), read for its truth.
  const boost::json::value* v = ctx.chat_template_kwargs ? ctx.chat_template_kwargs->if_contains("enable_thinking") : nullptr;
  const bool thinking = v == nullptr || truthy(*v);
  return std::unique_ptr<ReasoningParser>(std::make_unique<Qwen3ReasoningParser>(thinking, *ctx.vocab));
}

}  // namespace podserve::openai
