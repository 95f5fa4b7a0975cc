// mistral, on a vocabulary with [ARGS] (Mistral's v11+ tokenizers read through Hugging Face's): vLLM's
// MistralParser over its declarative engine. Each call is [TOOL_CALLS], the name, then [ARGS] or the opening `{`
// of the JSON arguments, which run to the next [TOOL_CALLS] or the end:
//   Let me check.[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time{"zone": "CET"}
// The arguments stream as they come, a top-level closing brace held until more follows; a whole answer keeps the
// first JSON value of them (text after it is dropped). Calls get Mistral's 9-character ids; a call whose name is
// empty is still reported (vLLM surfaces the malformed generation). On a vocabulary with [THINK] (Magistral) the
// engine also knows [THINK] ... [/THINK]: with a reasoning parser, a span opened in the content streams as
// reasoning (and [TOOL_CALLS] in it starts a call); without one the markers are text.
#include "serve/openai/tools/engine_tool_parser.h"
#include "serve/openai/tools/literal_lexer.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

enum MistralArgsTerminal { kToolCallsMarker, kArgs, kOpenBrace, kArgsThinkStart, kArgsThinkEnd };
enum class MistralArgsState { kContent, kReasoning, kName, kArguments };

bool has_think(const ParserVocab* vocab) { return vocab != nullptr && vocab->token_id("[THINK]").has_value(); }

/// The config's terminals: the reasoning ones only with [THINK] in the vocabulary (reasoning_encoding
/// "special_token"; "none" otherwise).
std::vector<std::string> mistral_literals(const ParserVocab* vocab) {
  std::vector<std::string> out = {"[TOOL_CALLS]", "[ARGS]", "{"};
  if (has_think(vocab)) out.insert(out.end(), {"[THINK]", "[/THINK]"});
  return out;
}

std::vector<MarkerToken> mistral_markers(const ParserVocab* vocab) {
  std::vector<MarkerToken> out;
  if (vocab == nullptr) return out;
  if (std::optional<int32_t> id = vocab->token_id("[TOOL_CALLS]")) {
    out.push_back({*id, kToolCallsMarker, "[TOOL_CALLS]"});
  }
  if (std::optional<int32_t> id = vocab->token_id("[ARGS]")) out.push_back({*id, kArgs, "[ARGS]"});
  if (!has_think(vocab)) return out;
  if (std::optional<int32_t> id = vocab->token_id("[THINK]")) out.push_back({*id, kArgsThinkStart, "[THINK]"});
  if (std::optional<int32_t> id = vocab->token_id("[/THINK]")) out.push_back({*id, kArgsThinkEnd, "[/THINK]"});
  return out;
}

/// vLLM's MistralParser._extract_args_json: the first JSON value of the stripped text, else the stripped text.
std::string first_json_value(std::string_view raw) {
  const std::string stripped = py_strip(raw);
  if (stripped.empty()) return "{}";
  if (std::optional<RawDecoded> d = json_raw_decode(stripped)) return stripped.substr(0, d->end);
  return stripped;
}

class MistralArgsToolParser final : public EngineToolParser {
 public:
  explicit MistralArgsToolParser(const ToolParserContext& ctx)
      : EngineToolParser(ctx), stream_(mistral_literals(ctx.vocab), mistral_markers(ctx.vocab)) {}

  bool supports_required_and_named() const override { return false; }
  void set_forced_tool_choice() override {}
  void set_skip_reasoning_markup(bool skip) override { skip_reasoning_ = skip; }

 private:
  bool streams_raw_args() const override { return true; }
  bool accept_name(std::string_view) const override { return true; }  // validate_tool_names is off
  std::pair<std::string, std::string> body_name_and_args(std::string_view raw) const override {
    return {"", first_json_value(raw)};  // never a {"name", "arguments"} envelope
  }
  // _try_extract_name: the slot's name is final, empty included (only asked while it is empty).
  std::optional<std::string> name_from_args(std::string_view) const override { return std::string(); }
  bool echo_first_args() const override { return true; }
  std::string new_call_id() const override { return make_mistral_tool_call_id(); }
  std::optional<std::string> convert_args(std::string_view raw, bool) const override {
    return first_json_value(raw);
  }

  void reset_front() override {
    state_ = MistralArgsState::kContent;
    index_ = -1;
    args_.reset();
    stream_.reset();
  }

  void feed_front(std::string_view delta, std::span<const int32_t> ids, std::vector<Event>& out) override {
    stream_.feed(delta, ids, sink(out));
  }

  void finish_front(std::vector<Event>& out) override {
    stream_.flush(sink(out));
    flush_buffer(out);
    if (state_ != MistralArgsState::kContent && index_ >= 0) out.push_back({Ev::kCallEnd, {}, index_});
    state_ = MistralArgsState::kContent;
  }

  TerminalStream::Sink sink(std::vector<Event>& out) {
    return [this, &out](int t, std::string_view s) { on_piece(t, s, out); };
  }

  void on_piece(int terminal, std::string_view text, std::vector<Event>& out) {
    const bool think = (terminal == kArgsThinkStart || terminal == kArgsThinkEnd) && !skip_reasoning_;
    if (think && (state_ == MistralArgsState::kContent || state_ == MistralArgsState::kReasoning)) {
      // [THINK] opens reasoning from content (a repeat is dropped); [/THINK] closes it (a stray one is dropped).
      state_ = terminal == kArgsThinkStart ? MistralArgsState::kReasoning : MistralArgsState::kContent;
      return;
    }
    if (terminal == kToolCallsMarker && state_ != MistralArgsState::kName) {  // a call starts (and ends the one before)
      if (state_ == MistralArgsState::kArguments) {
        flush_buffer(out);
        out.push_back({Ev::kCallEnd, {}, index_});
      }
      state_ = MistralArgsState::kName;
      out.push_back({Ev::kCallStart, {}, ++index_});
      return;
    }
    if (state_ == MistralArgsState::kName && (terminal == kArgs || terminal == kOpenBrace)) {
      enter_arguments();
      if (terminal == kOpenBrace) out.push_back({Ev::kArg, std::string(text), index_});  // `{` is argument text
      return;
    }
    switch (state_) {  // no transition: the text of the state
      case MistralArgsState::kContent: out.push_back({Ev::kText, std::string(text), index_}); break;
      case MistralArgsState::kReasoning: out.push_back({Ev::kReasoning, std::string(text), index_}); break;
      case MistralArgsState::kName: out.push_back({Ev::kName, std::string(text), index_}); break;
      case MistralArgsState::kArguments: feed_args(text, out); break;
    }
  }

  void enter_arguments() {
    state_ = MistralArgsState::kArguments;
    args_ = HeldArgsText{args_.buffer};  // vLLM resets the depth and string state, not the buffer
  }

  void feed_args(std::string_view text, std::vector<Event>& out) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (args_.add(text.substr(i, 1))) flush_buffer(out);
    }
  }

  void flush_buffer(std::vector<Event>& out) {
    if (args_.buffer.empty()) return;
    out.push_back({Ev::kArg, args_.buffer, index_});
    args_.buffer.clear();
  }

  TerminalStream stream_;
  MistralArgsState state_ = MistralArgsState::kContent;
  int index_ = -1;
  HeldArgsText args_;
  bool skip_reasoning_ = false;  // no reasoning parser: the markers are text (vLLM's skip_reasoning_parsing)
};

}  // namespace

std::unique_ptr<ToolParser> make_mistral_tool_parser(const ToolParserContext& ctx) {
  if (ctx.vocab != nullptr && ctx.vocab->token_id("[ARGS]")) return std::make_unique<MistralArgsToolParser>(ctx);
  return make_mistral_json_tool_parser(ctx);
}

}  // namespace podserve::openai
