#include "serve/openai/chat_output.h"

#include <algorithm>

namespace podserve::openai {

ChatChoiceResult chat_choice_message(const ChatToolSettings& s, ParsedOutput parsed, FinishReason finish) {
  ChatChoiceResult r;
  r.message.reasoning = std::move(parsed.reasoning);
  const bool named = s.tool_choice.kind == ToolChoice::kNamed;
  const bool required = s.tool_choice.kind == ToolChoice::kRequired;
  auto take_calls = [&] {
    for (ExtractedCall& c : parsed.calls.value_or(std::vector<ExtractedCall>{})) {
      if (!c.id) c.id = make_tool_call_id();
      r.message.tool_calls.push_back(std::move(c));
    }
  };
  bool auto_called = false;
  if (!s.has_tool_parser && !named && !required) {
    r.message.content = std::move(parsed.content);
  } else if (named || required) {
    r.message.content = parsed.content.value_or("");
    take_calls();
  } else if (s.tool_choice.kind == ToolChoice::kNull || s.tool_choice.kind == ToolChoice::kNone) {
    r.message.content = std::move(parsed.content);
  } else if (s.has_tools && s.tool_choice.kind == ToolChoice::kAuto) {
    auto_called = parsed.calls && !parsed.calls->empty();
    r.message.content = std::move(parsed.content);
    take_calls();
  } else {
    r.message.content = std::move(parsed.content);
  }
  if (auto_called || (required && finish == FinishReason::kStop)) r.finish_override = "tool_calls";
  if (!s.parallel_tool_calls && r.message.tool_calls.size() > 1) r.message.tool_calls.resize(1);
  return r;
}

void filter_parallel_tool_calls(const ChatToolSettings& s, DeltaMessage* delta) {
  if (s.parallel_tool_calls || delta == nullptr) return;
  std::erase_if(delta->tool_calls, [](const DeltaToolCall& tc) { return tc.index != 0; });
}

}  // namespace podserve::openai
