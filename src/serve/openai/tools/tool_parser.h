// A tool-call parser: one per choice of a request (streaming parsers keep state). Mirrors vLLM's ToolParser:
// `extract` reads a whole output, `extract_streaming` is fed the accumulated text and token ids as vLLM's
// server feeds them and returns what to send for this step.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/tools/tool_types.h"

namespace podserve::openai {

/// Token lookups a parser may need (vLLM parsers read the tokenizer's vocabulary).
class ParserVocab {
 public:
  virtual ~ParserVocab() = default;
  /// The id of the token spelled exactly `text`, or nullopt.
  virtual std::optional<int32_t> token_id(std::string_view text) const = 0;
  /// What token-level parsers (gpt-oss's harmony) read: a token's bytes (a special token's text), whether it is
  /// special, and the text of ids with special tokens kept (HF's decode). Text-level parsers need none of them.
  virtual std::string token_bytes(int32_t) const { return {}; }
  virtual bool is_special(int32_t) const { return false; }
  virtual std::string decode(std::span<const int32_t>) const { return {}; }
};

/// One streaming step: texts and ids before and after this delta, and the delta itself.
struct StreamStep {
  std::string_view previous_text;
  std::string_view current_text;
  std::string_view delta_text;
  std::span<const int32_t> previous_ids;
  std::span<const int32_t> current_ids;
  std::span<const int32_t> delta_ids;
};

class ToolParser {
 public:
  virtual ~ToolParser() = default;

  virtual ExtractedToolCalls extract(std::string_view output) = 0;
  virtual std::optional<DeltaMessage> extract_streaming(const StreamStep& step) = 0;

  /// Arguments of the last call that were parsed but not streamed yet (sent with the final delta).
  virtual std::string remaining_unstreamed_args() const;

  /// vLLM's `supports_required_and_named`: false for parsers with a structural-tag model (tool_choice
  /// required / named are then parsed as auto and constrained by the model's own tag format).
  virtual bool supports_required_and_named() const { return true; }
  /// hermes: with tools active, special tokens stay in the text (the tags are special in some models).
  virtual bool keeps_special_tokens_with_tools() const { return false; }

  /// vLLM's engine-based parsers (vllm/parser/engine): they hold text back between steps (flushed by
  /// finish_streaming at the end), see tool_choice "none" themselves, and without a reasoning parser read
  /// reasoning markup as plain text.
  virtual bool engine_based() const { return false; }
  virtual std::optional<DeltaMessage> finish_streaming() { return std::nullopt; }
  virtual void set_skip_reasoning_markup(bool) {}
  virtual void set_tool_choice_none() {}
  /// Non-null for gpt-oss's harmony format, which OutputParser parses by token ids with this vocabulary.
  virtual const ParserVocab* harmony_vocab() const { return nullptr; }
  /// tool_choice "required" or a named function, for a parser that reads those itself (mistral: vLLM then
  /// constrains the output to the call array without its marker).
  virtual void set_forced_tool_choice() {}

 protected:
  /// vLLM's prev_tool_call_arr / streamed_args_for_tool, for remaining_unstreamed_args().
  struct SentCall {
    std::optional<std::string> name;
    std::optional<std::string> arguments;  // the text form of the arguments parsed so far
  };
  std::vector<SentCall> prev_calls_;
  std::vector<std::string> streamed_args_;
};

/// Creates tool parsers by vLLM's names.
struct ToolParserContext {
  const ParserVocab* vocab = nullptr;
  const std::vector<ToolSpec>* tools = nullptr;  // the request's tools (may be null)
};
using ToolParserFactory = std::unique_ptr<ToolParser> (*)(const ToolParserContext& ctx);

}  // namespace podserve::openai
