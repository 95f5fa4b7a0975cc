#include "serve/openai/output_parser.h"

#include "serve/openai/harmony_output.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

std::string content_of(const std::optional<DeltaMessage>& m) {
  return m && m->content.has_value() ? *m->content.value : std::string();
}

}  // namespace

OutputParser::OutputParser(std::unique_ptr<ReasoningParser> reasoning, std::unique_ptr<ToolParser> tools,
                           OutputParserOptions options)
    : reasoning_(std::move(reasoning)), tools_(std::move(tools)), options_(std::move(options)) {
  engine_based_ = (reasoning_ == nullptr || reasoning_->engine_based()) && (tools_ == nullptr || tools_->engine_based());
  if (tools_ != nullptr) {
    if (reasoning_ == nullptr) tools_->set_skip_reasoning_markup(true);
    if (options_.tool_choice.kind == ToolChoice::kNone) tools_->set_tool_choice_none();
    if (options_.tool_choice.kind == ToolChoice::kRequired || options_.tool_choice.kind == ToolChoice::kNamed) {
      tools_->set_forced_tool_choice();
    }
  }
  // vLLM's HarmonyParser takes over for gpt-oss: it parses token ids, whatever tool_choice says.
  const ParserVocab* vocab = tools_ != nullptr ? tools_->harmony_vocab() : nullptr;
  if (vocab == nullptr && reasoning_ != nullptr) vocab = reasoning_->harmony_vocab();
  if (vocab != nullptr) {
    if (std::optional<HarmonyTokens> tokens = HarmonyTokens::from(*vocab)) {
      harmony_ = std::make_unique<HarmonyOutput>(*vocab, *tokens, reasoning_ != nullptr, tools_ != nullptr,
                                                 options_.include_reasoning);
    }
  }
}

OutputParser::~OutputParser() = default;

bool OutputParser::is_reasoning_end(std::span<const int32_t> ids) const {
  return reasoning_ != nullptr && reasoning_->is_reasoning_end(ids);
}

int OutputParser::count_reasoning_tokens(std::span<const int32_t> ids) const {
  if (harmony_ != nullptr) return harmony_->count_reasoning_tokens(ids);
  return reasoning_ == nullptr ? 0 : reasoning_->count_reasoning_tokens(ids);
}

std::pair<std::optional<std::vector<ExtractedCall>>, std::optional<std::string>> OutputParser::extract_tool_calls(
    std::optional<std::string> content) {
  using Calls = std::vector<ExtractedCall>;
  const ToolChoice& choice = options_.tool_choice;
  if (tools_ == nullptr) return {Calls{}, std::move(content)};
  if (choice.kind == ToolChoice::kNone) {
    // An engine-based parser still reads its markup (and drops it from the content).
    if (engine_based_) return {Calls{}, tools_->extract(content.value_or("")).content};
    return {Calls{}, std::move(content)};
  }
  const bool supports = tools_->supports_required_and_named();
  const bool named = choice.kind == ToolChoice::kNamed;
  const bool required = choice.kind == ToolChoice::kRequired;
  auto blank = [](const std::optional<std::string>& c) { return !c || py_is_blank(*c); };
  if (named && supports) {
    if (blank(content)) return {Calls{}, std::nullopt};
    return {Calls{ExtractedCall{std::nullopt, choice.name, *content}}, std::nullopt};
  }
  if (required && supports) {
    std::optional<Calls> calls = parse_required_calls(content.value_or(""));
    return {calls ? std::move(*calls) : Calls{}, std::nullopt};
  }
  const bool auto_like =
      choice.kind == ToolChoice::kAuto || choice.kind == ToolChoice::kNull || (!supports && (named || required));
  if (!auto_like) return {Calls{}, std::move(content)};
  ExtractedToolCalls info = tools_->extract(content.value_or(""));
  if (info.tools_called) {
    std::optional<std::string> c = std::move(info.content);
    if (c && !c->empty() && py_is_blank(*c)) c.reset();
    return {std::move(info.calls), std::move(c)};
  }
  if ((required || named) && blank(content)) return {Calls{}, std::nullopt};
  if (engine_based_) {
    if (info.content && info.content->empty()) info.content.reset();
    return {std::nullopt, std::move(info.content)};
  }
  return {std::nullopt, std::move(content)};
}

ParsedOutput OutputParser::parse(std::string_view output, std::span<const int32_t> ids) {
  if (harmony_ != nullptr) return harmony_->parse(ids);
  ParsedOutput out;
  std::optional<std::string> content;
  if (reasoning_ == nullptr) {
    content = std::string(output);
  } else {
    ReasoningSplit split = reasoning_->extract(output);
    out.reasoning = std::move(split.reasoning);
    content = std::move(split.content);
  }
  auto [calls, rest] = extract_tool_calls(std::move(content));
  out.calls = std::move(calls);
  out.content = std::move(rest);
  return out;
}

OutputParser::ToolStreamResult OutputParser::extract_tool_calls_streaming(const StreamStep& step) {
  const ToolChoice& choice = options_.tool_choice;
  const bool supports = tools_->supports_required_and_named();
  if (choice.kind == ToolChoice::kNone) {
    if (engine_based_) {
      std::optional<DeltaMessage> m = tools_->extract_streaming(step);
      if (m) m->tool_calls.clear();
      return {std::move(m), false};
    }
    if (step.delta_text.empty()) return {};
    DeltaMessage m;
    m.content = Field::of(std::string(step.delta_text));
    return {std::move(m), false};
  }
  if (supports && choice.kind == ToolChoice::kNamed) {
    DeltaToolCall d;
    d.index = 0;
    d.has_function = true;
    d.arguments = Field::of(std::string(step.delta_text));
    if (!function_name_returned_) {
      d.id = Field::of(make_tool_call_id());
      d.type = Field::of("function");
      d.name = Field::of(choice.name);
    }
    DeltaMessage m;
    m.tool_calls.push_back(std::move(d));
    return {std::move(m), true};
  }
  if (supports && choice.kind == ToolChoice::kRequired) {
    bool announced = false;
    std::optional<DeltaMessage> m = required_calls_delta(step.previous_text, step.current_text, &announced);
    return {std::move(m), announced};
  }
  return {tools_->extract_streaming(step), false};
}

/// vLLM's _flush_engine_parsers: what engine-based parsers still hold, added to the last step (the reasoning
/// parser's only while reasoning is still open: after it the tool parser has the text).
void OutputParser::flush_engine_parsers(std::optional<DeltaMessage>& message) {
  auto merge = [&message](std::optional<DeltaMessage> flushed) {
    if (!flushed) return;
    if (!message) {
      message = std::move(flushed);
      return;
    }
    if (flushed->content.has_value() && !flushed->content.value->empty()) {
      message->content = Field::of(content_of(message) + *flushed->content.value);
    }
    if (flushed->reasoning.has_value() && !flushed->reasoning.value->empty()) {
      message->reasoning = Field::of(message->reasoning.value.value_or("") + *flushed->reasoning.value);
    }
    for (DeltaToolCall& d : flushed->tool_calls) message->tool_calls.push_back(std::move(d));
  };
  if (reasoning_ != nullptr && reasoning_->engine_based() && !reasoning_ended_) merge(reasoning_->finish_streaming());
  if (tools_ != nullptr && tools_->engine_based()) merge(tools_->finish_streaming());
}

std::optional<DeltaMessage> OutputParser::parse_delta(std::string_view delta_text,
                                                      std::span<const int32_t> delta_ids,
                                                      std::span<const int32_t> prompt_ids, bool finished) {
  if (harmony_ != nullptr) return harmony_->parse_delta(delta_ids, finished);
  if (!prompt_checked_) {
    prompt_checked_ = true;
    if (reasoning_ == nullptr || reasoning_->is_reasoning_end(prompt_ids)) reasoning_ended_ = true;
  }
  // vLLM's StreamState.advance / commit: engine-based parsers keep their own state, so each step's "current"
  // text is only its delta (tool_choice "required" then scans one step at a time).
  std::string current_text = engine_based_ ? std::string(delta_text) : previous_text_ + std::string(delta_text);
  std::vector<int32_t> current_ids = engine_based_ ? std::vector<int32_t>() : previous_ids_;
  current_ids.insert(current_ids.end(), delta_ids.begin(), delta_ids.end());
  std::string delta(delta_text);
  std::vector<int32_t> step_delta_ids(delta_ids.begin(), delta_ids.end());
  std::optional<DeltaMessage> message;
  bool transitioned = false;

  if (reasoning_ != nullptr && !reasoning_ended_) {
    message = reasoning_->extract_streaming(
        StreamStep{previous_text_, current_text, delta, previous_ids_, current_ids, step_delta_ids});
    const bool engine = reasoning_->engine_based();
    if (engine ? reasoning_->confirmed_reasoning_end()
               : reasoning_->is_reasoning_end_streaming(current_ids, step_delta_ids)) {
      reasoning_ended_ = true;
      transitioned = true;
      current_ids = reasoning_->extract_content_ids(step_delta_ids);
      // An engine-based parser may hold back text after the end marker (the "<" of "<tool_call>"): flushed now.
      std::optional<DeltaMessage> flushed = engine ? reasoning_->finish_streaming() : std::nullopt;
      current_text = content_of(message) + content_of(flushed);
      if (engine_based_ && tools_ != nullptr) {
        if (message) message->content = Field{};  // the tool phase below takes current_text
      } else if (engine_based_) {
        // No tool phase follows to take the text: it is this step's content.
        if (!current_text.empty()) {
          if (!message) message = DeltaMessage{};
          message->content = Field::of(current_text);
        }
      } else {
        delta = current_text;
      }
    }
  }

  const bool tool_phase = tools_ != nullptr && reasoning_ended_;
  if (tool_phase) {
    if (!tool_text_started_) {
      tool_text_started_ = true;
      previous_text_.clear();
      previous_ids_.clear();
      delta = current_text;
      step_delta_ids = current_ids;
    }
    std::optional<std::string> batch_reasoning;
    if (message && message->reasoning.has_value()) batch_reasoning = message->reasoning.value;
    ToolStreamResult r = extract_tool_calls_streaming(
        StreamStep{previous_text_, current_text, delta, previous_ids_, current_ids, step_delta_ids});
    message = std::move(r.delta);
    function_name_returned_ = r.function_name_returned;
    if (batch_reasoning && !batch_reasoning->empty()) {
      if (!message) {
        message = DeltaMessage{};
        message->reasoning = Field::of(*batch_reasoning);
      } else if (!message->reasoning.has_value() || message->reasoning.value->empty()) {
        message->reasoning = Field::of(*batch_reasoning);
      }
    }
  }

  const bool in_reasoning = reasoning_ != nullptr && !reasoning_ended_;
  if (!message && !transitioned && !in_reasoning && !tool_phase) {
    message = DeltaMessage{};
    message->content = Field::of(delta);
  }
  previous_text_ = engine_based_ ? std::string() : std::move(current_text);
  previous_ids_ = engine_based_ ? std::vector<int32_t>() : std::move(current_ids);

  if (finished && tools_ != nullptr && message && !message->tool_calls.empty()) {
    DeltaToolCall& last = message->tool_calls.back();
    if (last.has_function) {
      last.arguments = Field::of(last.arguments.value.value_or("") + tools_->remaining_unstreamed_args());
    }
  }
  if (finished) flush_engine_parsers(message);
  if (message && !options_.include_reasoning) {
    message->reasoning = Field::null();
    if ((!message->content.has_value() || message->content.value->empty()) && message->tool_calls.empty()) {
      message.reset();
    }
  }
  return message;
}

}  // namespace podserve::openai
