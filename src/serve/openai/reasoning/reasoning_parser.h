// A reasoning parser (vLLM's ReasoningParser): splits a model's output into reasoning and content, whole or
// streamed, and tells from token ids whether reasoning has ended (what structured outputs wait for).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/request.h"
#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai {

struct ReasoningSplit {
  std::optional<std::string> reasoning;
  std::optional<std::string> content;
};

class ReasoningParser {
 public:
  virtual ~ReasoningParser() = default;

  virtual ReasoningSplit extract(std::string_view output) const = 0;
  virtual std::optional<DeltaMessage> extract_streaming(const StreamStep& step) = 0;

  /// Whether reasoning is over at the end of `ids` (the prompt, or prompt + output so far). Token-id based and
  /// pure, as vLLM's is_reasoning_end: the structured-output engine's hook for when masking starts.
  virtual bool is_reasoning_end(std::span<const int32_t> ids) const = 0;
  /// Streaming: whether this step's `delta` ends reasoning.
  virtual bool is_reasoning_end_streaming(std::span<const int32_t> ids, std::span<const int32_t> delta) const = 0;
  /// The ids after the end marker (what the tool phase gets of the step that ended reasoning).
  virtual std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const = 0;
  /// Tokens inside reasoning spans (usage.completion_tokens_details.reasoning_tokens).
  virtual int count_reasoning_tokens(std::span<const int32_t> ids) const = 0;
  /// Whether `token`, having ended reasoning, is itself output the constraint applies to (an implicit end such
  /// as Qwen3's <tool_call>); an explicit end marker (</think>) is not.
  virtual bool end_token_is_output(int32_t token) const { return false; }

  /// vLLM's engine-based parsers (vllm/parser/engine): the stream leaves reasoning when the parser itself has
  /// seen the end (not by is_reasoning_end_streaming), and text it held back is flushed then.
  virtual bool engine_based() const { return false; }
  virtual bool confirmed_reasoning_end() const { return false; }
  virtual std::optional<DeltaMessage> finish_streaming() { return std::nullopt; }

  /// Non-null for gpt-oss's harmony format, which OutputParser parses by token ids with this vocabulary.
  virtual const ParserVocab* harmony_vocab() const { return nullptr; }
};

struct ReasoningParserContext {
  const ParserVocab* vocab = nullptr;  // read while the parser is made; kept only for harmony_vocab()
  const boost::json::object* chat_template_kwargs = nullptr;  // the effective kwargs (may be null)
};

/// Creates a parser; an error when the vocabulary lacks the markers the parser needs (vLLM's start-up error).
using ReasoningParserFactory = Result<std::unique_ptr<ReasoningParser>> (*)(const ReasoningParserContext& ctx);

/// The engine's view of a parser (SamplingParams.reasoning_end): when structured-output masking may start.
std::shared_ptr<const ReasoningEndDetector> reasoning_end_detector(std::unique_ptr<ReasoningParser> parser);

/// Everything is content, reasoning over from the start (vLLM's IdentityReasoningParser).
std::unique_ptr<ReasoningParser> make_identity_reasoning_parser();

/// The factory for a reasoning parser name, or null.
ReasoningParserFactory find_reasoning_parser(std::string_view name);
std::vector<std::string> reasoning_parser_names();

}  // namespace podserve::openai
