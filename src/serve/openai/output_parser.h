// One choice's output parsing, as vLLM's DelegatingParser drives a reasoning parser and a tool parser:
// `parse` for a whole output, `parse_delta` per streamed step (fed text deltas and token ids, with the prompt's
// ids on the first step to know whether reasoning is already over). Also tool_choice "required" and named
// calls on parsers without a model-native format (the JSON the constraint forces).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/reasoning/reasoning_parser.h"
#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai {

/// The request's tool_choice after vLLM's defaults (absent + tools -> auto, absent otherwise -> none).
struct ToolChoice {
  enum Kind { kNone, kAuto, kRequired, kNamed, kNull };  // kNull: an explicit `"tool_choice": null`
  Kind kind = kNone;
  std::string name;  // kNamed
};

struct OutputParserOptions {
  ToolChoice tool_choice;
  bool include_reasoning = true;
};

struct ParsedOutput {
  std::optional<std::string> reasoning;
  std::optional<std::string> content;
  std::optional<std::vector<ExtractedCall>> calls;  // nullopt: vLLM's None (auto parsing found nothing)
};

class HarmonyOutput;

class OutputParser {
 public:
  /// Either parser may be null.
  OutputParser(std::unique_ptr<ReasoningParser> reasoning, std::unique_ptr<ToolParser> tools,
               OutputParserOptions options);
  ~OutputParser();

  /// `ids`: the output's token ids (gpt-oss's harmony format is parsed from them, other formats from the text).
  ParsedOutput parse(std::string_view output, std::span<const int32_t> ids = {});
  /// One streamed step; `prompt_ids` on every call (used on the first). nullopt: nothing to send this step.
  std::optional<DeltaMessage> parse_delta(std::string_view delta_text, std::span<const int32_t> delta_ids,
                                          std::span<const int32_t> prompt_ids, bool finished);

  bool is_reasoning_end(std::span<const int32_t> ids) const;
  int count_reasoning_tokens(std::span<const int32_t> ids) const;
  bool has_reasoning_parser() const { return reasoning_ != nullptr; }
  bool has_tool_parser() const { return tools_ != nullptr; }
  /// The tool parser reads tool_choice required / named as the constraint's JSON (vLLM's Path A).
  bool supports_required_and_named() const { return tools_ != nullptr && tools_->supports_required_and_named(); }
  bool keeps_special_tokens_with_tools() const { return tools_ != nullptr && tools_->keeps_special_tokens_with_tools(); }
  /// vLLM's ParserEngine.adjust_request: an engine-based parser keeps special tokens in the text it reads.
  bool has_engine_parser() const {
    return (tools_ != nullptr && tools_->engine_based()) || (reasoning_ != nullptr && reasoning_->engine_based());
  }

 private:
  struct ToolStreamResult {
    std::optional<DeltaMessage> delta;
    bool function_name_returned = false;
  };
  std::pair<std::optional<std::vector<ExtractedCall>>, std::optional<std::string>> extract_tool_calls(
      std::optional<std::string> content);
  ToolStreamResult extract_tool_calls_streaming(const StreamStep& step);
  void flush_engine_parsers(std::optional<DeltaMessage>& message);

  std::unique_ptr<ReasoningParser> reasoning_;
  std::unique_ptr<ToolParser> tools_;
  OutputParserOptions options_;
  std::unique_ptr<HarmonyOutput> harmony_;  // set when the parsers are gpt-oss's (openai / openai_gptoss)
  bool engine_based_ = false;  // vLLM's _engine_based: every configured parser is engine-based

  // Stream state (vLLM's StreamState).
  bool reasoning_ended_ = false;
  bool tool_text_started_ = false;
  bool prompt_checked_ = false;
  std::string previous_text_;
  std::vector<int32_t> previous_ids_;
  bool function_name_returned_ = false;
};

/// tool_choice "required" without a model format: the output must be a JSON list of {name, parameters}
/// objects (pydantic's list[FunctionDefinition]); nullopt when it is not.
std::optional<std::vector<ExtractedCall>> parse_required_calls(std::string_view content);
/// Streams a "required" array: every element with something new, given the texts before and after a step.
std::optional<DeltaMessage> required_calls_delta(std::string_view previous_text, std::string_view current_text,
                                                 bool* any_announced);

}  // namespace podserve::openai
