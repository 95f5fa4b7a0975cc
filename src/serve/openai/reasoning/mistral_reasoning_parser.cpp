// mistral (vLLM's MistralParser engine as a reasoning parser, vllm/parser/mistral.py, tool parsing skipped):
// Magistral's `[THINK]` ... `[/THINK]`, both special tokens. Unlike qwen3 the output starts as content: `[THINK]`
// opens reasoning, `[/THINK]` closes it (a repeated `[THINK]` and a stray `[/THINK]` are dropped), and
// `[TOOL_CALLS]` ends reasoning implicitly and stays content for the tool parser. Reasoning never counts as
// over until an end marker (a prompt or output without one keeps structured outputs waiting, as vLLM's
// wait_for_reasoning does). Trailing whitespace of reasoning is dropped (streamed: held until more reasoning
// follows), and whitespace-only content at the start of a stream is held until something else arrives.
// Without `[THINK]` in a Hugging Face vocabulary vLLM's reasoning is off: everything is content.
#include <algorithm>

#include "serve/openai/reasoning/reasoning_parser.h"
#include "serve/openai/tools/literal_lexer.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

// The config's terminals (mistral_config with reasoning_encoding "special_token").
enum MistralThinkTerminal { kMrThinkStart, kMrThinkEnd, kMrToolCalls, kMrArgs, kMrOpenBrace };

const std::vector<std::string>& mistral_think_literals() {
  static const std::vector<std::string> kLiterals = {"[THINK]", "[/THINK]", "[TOOL_CALLS]", "[ARGS]", "{"};
  return kLiterals;
}

std::vector<MarkerToken> mistral_think_markers(const ParserVocab& vocab) {
  std::vector<MarkerToken> out;
  const std::vector<std::string>& literals = mistral_think_literals();
  for (int t : {kMrThinkStart, kMrThinkEnd, kMrToolCalls, kMrArgs}) {
    if (std::optional<int32_t> id = vocab.token_id(literals[t])) out.push_back(MarkerToken{*id, t, literals[t]});
  }
  return out;
}

class MistralReasoningParser final : public ReasoningParser {
 public:
  explicit MistralReasoningParser(const ParserVocab& vocab)
      : stream_(mistral_think_literals(), mistral_think_markers(vocab)) {
    start_id_ = vocab.token_id(mistral_think_literals()[kMrThinkStart]);
    end_id_ = vocab.token_id(mistral_think_literals()[kMrThinkEnd]);
    tool_id_ = vocab.token_id(mistral_think_literals()[kMrToolCalls]);
    // _derive_reasoning_end_token_ids: none at all when [/THINK] (the end back to content) has no id.
    if (end_id_) {
      end_ids_.push_back(*end_id_);
      if (tool_id_) end_ids_.push_back(*tool_id_);
    }
  }

  ReasoningSplit extract(std::string_view output) const override {
    MistralReasoningParser p(*this);
    p.reset();
    Out out;
    p.stream_.feed(output, {}, p.sink(out));
    p.stream_.flush(p.sink(out));
    ReasoningSplit r;
    std::string reasoning = py_rstrip(out.reasoning);
    if (!reasoning.empty()) r.reasoning = std::move(reasoning);
    if (!out.content.empty()) r.content = std::move(out.content);
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    Out out;
    stream_.feed(step.delta_text, step.delta_ids, sink(out));
    return strip_trailing_reasoning(to_delta(out, false));
  }
  bool engine_based() const override { return true; }
  bool confirmed_reasoning_end() const override { return ended_; }
  std::optional<DeltaMessage> finish_streaming() override {
    Out out;
    stream_.flush(sink(out));
    if (out.empty() && deferred_content_.empty()) return std::nullopt;
    return to_delta(out, true);
  }

  bool is_reasoning_end(std::span<const int32_t> ids) const override {
    for (size_t i = ids.size(); i-- > 0;) {
      if (is_end_id(ids[i])) return true;
      if (ids[i] == start_id_) return false;
    }
    return false;  // wait_for_reasoning
  }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t> delta) const override {
    return std::any_of(delta.begin(), delta.end(), [this](int32_t id) { return is_end_id(id); });
  }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    for (size_t i = ids.size(); end_id_ && i-- > 0;) {
      if (ids[i] == *end_id_) return {ids.begin() + static_cast<std::ptrdiff_t>(i) + 1, ids.end()};
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (is_end_id(ids[i])) return {ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end()};
    }
    return {ids.begin(), ids.end()};
  }
  /// vLLM counts with a fresh engine that parses tools: tokens inside reasoning, markers excluded; after
  /// [TOOL_CALLS] the output is a tool call, which never returns to reasoning.
  int count_reasoning_tokens(std::span<const int32_t> ids) const override {
    int n = 0;
    bool reasoning = false;
    for (int32_t id : ids) {
      if (id == tool_id_) break;
      if (id == start_id_) {
        reasoning = true;
      } else if (id == end_id_) {
        reasoning = false;
      } else if (reasoning) {
        ++n;
      }
    }
    return n;
  }
  bool end_token_is_output(int32_t token) const override { return token == tool_id_; }

 private:
  struct Out {
    std::string reasoning;
    std::string content;
    bool empty() const { return reasoning.empty() && content.empty(); }
  };

  bool is_end_id(int32_t id) const { return std::find(end_ids_.begin(), end_ids_.end(), id) != end_ids_.end(); }

  void reset() {
    reasoning_ = false;
    ended_ = false;
    content_has_nonws_ = false;
    deferred_content_.clear();
    deferred_reasoning_.clear();
    stream_.reset();
  }

  TerminalStream::Sink sink(Out& out) {
    return [this, &out](int t, std::string_view s) {
      if (t == LexPiece::kContent) {
        (reasoning_ ? out.reasoning : out.content).append(s);
      } else {
        terminal(t, s, out);
      }
    };
  }

  // The transition table, with tool terminals as skip_tool_parsing leaves them.
  void terminal(int t, std::string_view spelling, Out& out) {
    switch (t) {
      case kMrThinkStart:
        reasoning_ = true;
        return;
      case kMrThinkEnd:
        if (reasoning_) ended_ = true;
        reasoning_ = false;
        return;
      case kMrToolCalls:
        reasoning_ = false;
        ended_ = true;
        out.content.append(spelling);
        return;
      default:
        (reasoning_ ? out.reasoning : out.content).append(spelling);
    }
  }

  /// ParserEngine._events_to_delta without tool events: whitespace-only content is held until content that is
  /// not arrives, or the stream finishes.
  std::optional<DeltaMessage> to_delta(Out& out, bool finished) {
    std::string content = std::move(deferred_content_) + out.content;
    deferred_content_.clear();
    if (!content_has_nonws_ && !content.empty()) {
      if (!py_is_blank(content)) {
        content_has_nonws_ = true;
      } else if (!finished) {
        deferred_content_ = std::move(content);
        content.clear();
      }
    }
    if (content.empty() && out.reasoning.empty()) return std::nullopt;
    DeltaMessage m;
    if (!content.empty()) m.content = Field::of(std::move(content));
    if (!out.reasoning.empty()) m.reasoning = Field::of(std::move(out.reasoning));
    return m;
  }

  /// ParserEngine._strip_trailing_reasoning: a streamed reasoning delta's trailing whitespace waits for more.
  std::optional<DeltaMessage> strip_trailing_reasoning(std::optional<DeltaMessage> m) {
    if (m && m->reasoning.has_value()) {
      const std::string combined = deferred_reasoning_ + *m->reasoning.value;
      std::string trimmed = py_rstrip(combined);
      deferred_reasoning_ = combined.substr(trimmed.size());
      if (trimmed.empty()) {
        m->reasoning = Field{};
        if (!m->content.has_value()) return std::nullopt;
      } else {
        m->reasoning = Field::of(std::move(trimmed));
      }
    } else if (!deferred_reasoning_.empty() && ended_) {
      deferred_reasoning_.clear();
    }
    return m;
  }

  TerminalStream stream_;
  std::optional<int32_t> start_id_, end_id_, tool_id_;
  std::vector<int32_t> end_ids_;
  bool reasoning_ = false;  // the engine's state: REASONING, else CONTENT
  bool ended_ = false;
  bool content_has_nonws_ = false;
  std::string deferred_content_;
  std::string deferred_reasoning_;
};

}  // namespace

Result<std::unique_ptr<ReasoningParser>> make_mistral_reasoning_parser(const ReasoningParserContext& ctx) {
  if (!ctx.vocab->token_id("[TOOL_CALLS]")) {
    return invalid_argument("Mistral parser could not locate the tool call token in the tokenizer!");
  }
  if (!ctx.vocab->token_id("[THINK]")) return make_identity_reasoning_parser();
  return std::unique_ptr<ReasoningParser>(std::make_unique<MistralReasoningParser>(*ctx.vocab));
}

}  // namespace podserve::openai
