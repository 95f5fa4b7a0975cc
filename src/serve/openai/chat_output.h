// How a chat choice's parsed output becomes its message and finish_reason (vLLM's OpenAIServingChat), whole
// and streamed: which tool_choice keeps which calls, when finish_reason becomes "tool_calls", and
// `parallel_tool_calls: false` keeping only the first call.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/request.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/responses.h"

namespace podserve::openai {

struct ChatToolSettings {
  bool has_tool_parser = false;  // --enable-auto-tool-choice with a --tool-call-parser
  bool has_tools = false;        // the request has `tools`
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
};

struct ChatChoiceResult {
  ParsedMessage message;
  std::optional<std::string> finish_override;
};

/// The message of a finished choice (tool-call ids assigned) and its finish_reason override.
ChatChoiceResult chat_choice_message(const ChatToolSettings& settings, ParsedOutput parsed, FinishReason finish);

/// A streamed step with `parallel_tool_calls: false`: only call index 0 survives.
void filter_parallel_tool_calls(const ChatToolSettings& settings, DeltaMessage* delta);

/// Per-choice output parsing for one chat request (null make_parser: none configured).
struct ChatParsing {
  std::function<std::unique_ptr<OutputParser>()> make_parser;
  ChatToolSettings settings;
  bool reasoning_tokens = false;  // report usage.completion_tokens_details.reasoning_tokens
};

}  // namespace podserve::openai
