// deepseek_v3: `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>TYPE<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
// ...<｜tool▁calls▁end｜>` (vLLM's DeepSeekV3ToolParser). The regexes' `.` does not cross newlines, so arguments
// are one line; a multi-line one matches nothing. Streaming counts the call begin/end token ids, as vLLM
// does, quirks included (the closing step looks at `current_text + delta_text`).
#include <algorithm>

#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kFence = "\n```json\n";

std::string replace_all(std::string s, std::string_view from) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p)) s.erase(p, from.size());
  return s;
}

/// Python's str.split(sep)[-1] and [0].
std::string_view after_last(std::string_view s, std::string_view sep) {
  const size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}
std::string_view before_first(std::string_view s, std::string_view sep) {
  const size_t p = s.find(sep);
  return p == std::string_view::npos ? s : s.substr(0, p);
}

struct CallHead {
  std::string type, name;
  size_t after_name = 0;  // offset of the '\n' that ends the first line
};

/// `(?P<type>.*)<｜tool▁sep｜>(?P<function_name>.*)\n` anchored at `start`: the last separator on the first line.
std::optional<CallHead> match_head(std::string_view s, size_t start) {
  const size_t nl = s.find('\n', start);
  if (nl == std::string_view::npos) return std::nullopt;
  const std::string_view line = s.substr(start, nl - start);
  const size_t sep = line.rfind(kSep);
  if (sep == std::string_view::npos) return std::nullopt;
  return CallHead{std::string(line.substr(0, sep)), std::string(line.substr(sep + kSep.size())), nl};
}

/// The line starting at `pos` (up to a '\n' or the end), and where it ends.
std::string_view line_at(std::string_view s, size_t pos, size_t* end) {
  *end = s.find('\n', pos);
  if (*end == std::string_view::npos) *end = s.size();
  return s.substr(pos, *end - pos);
}

struct FullCall {
  std::string type, name, args;
  size_t end = 0;
};

/// The whole-call regex at a `<｜tool▁call▁begin｜>` found at `begin`.
std::optional<FullCall> match_call(std::string_view s, size_t begin) {
  std::optional<CallHead> head = match_head(s, begin + kCallBegin.size());
  if (!head || s.compare(head->after_name, kFence.size(), kFence) != 0) return std::nullopt;
  size_t args_end = 0;
  const std::string_view args = line_at(s, head->after_name + kFence.size(), &args_end);
  const std::string tail = std::string("\n```") + std::string(kCallEnd);
  if (s.compare(args_end, tail.size(), tail) != 0) return std::nullopt;
  return FullCall{head->type, head->name, std::string(args), args_end + tail.size()};
}

/// `...\n```json\n(?P<function_arguments>.*[^\n`])` after a head: the third line without trailing backticks.
std::optional<std::string> match_stream_args(std::string_view s, const CallHead& head) {
  if (s.compare(head.after_name, kFence.size(), kFence) != 0) return std::nullopt;
  size_t end = 0;
  std::string_view line = line_at(s, head.after_name + kFence.size(), &end);
  while (!line.empty() && line.back() == '`') line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  return std::string(line);
}

class DeepSeekV3ToolParser final : public ToolParser {
 public:
  explicit DeepSeekV3ToolParser(const ParserVocab& vocab)
      : calls_begin_id_(vocab.token_id(kCallsBegin)),
        call_begin_id_(vocab.token_id(kCallBegin)),
        call_end_id_(vocab.token_id(kCallEnd)) {}

  ExtractedToolCalls extract(std::string_view output) override {
    const size_t first = output.find(kCallsBegin);
    if (first == std::string_view::npos) return ExtractedToolCalls{false, {}, std::string(output)};
    ExtractedToolCalls r;
    size_t pos = 0;
    while ((pos = output.find(kCallBegin, pos)) != std::string_view::npos) {
      std::optional<FullCall> call = match_call(output, pos);
      if (!call) {
        pos += kCallBegin.size();
        continue;
      }
      if (call->type != "function") return ExtractedToolCalls{false, {}, std::string(output)};  // pydantic
      r.calls.push_back(ExtractedCall{std::nullopt, call->name, call->args});
      pos = call->end;
    }
    r.tools_called = true;
    if (first > 0) r.content = std::string(output.substr(0, first));
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override;

  bool supports_required_and_named() const override { return false; }  // structural tag "deepseek_r1"

 private:
  static DeltaMessage content_delta(std::string text) {
    DeltaMessage m;
    m.content = Field::of(std::move(text));
    return m;
  }
  static DeltaMessage args_delta(int index, std::string args) {
    DeltaMessage m;
    DeltaToolCall d;
    d.index = index;
    d.has_function = true;
    d.arguments = Field::of(std::move(args));
    m.tool_calls.push_back(std::move(d));
    return m;
  }
  static long count(std::span<const int32_t> ids, std::optional<int32_t> id) {
    return id ? std::count(ids.begin(), ids.end(), *id) : 0;
  }

  std::optional<int32_t> calls_begin_id_, call_begin_id_, call_end_id_;
  int current_tool_ = -1;
  bool name_sent_ = false;
};

std::optional<DeltaMessage> DeepSeekV3ToolParser::extract_streaming(const StreamStep& step) {
  if (count(step.current_ids, calls_begin_id_) == 0) return content_delta(std::string(step.delta_text));
  std::string delta = replace_all(replace_all(std::string(step.delta_text), kCallsBegin), kCallsEnd);
  const long prev_start = count(step.previous_ids, call_begin_id_);
  const long prev_end = count(step.previous_ids, call_end_id_);
  const long cur_start = count(step.current_ids, call_begin_id_);
  const long cur_end = count(step.current_ids, call_end_id_);
  std::optional<std::string> portion;
  std::optional<std::string> text_portion;
  if (cur_start == cur_end && prev_end == cur_end && delta.find(kCallEnd) == std::string::npos) {
    return content_delta(delta);
  }
  if (delta.find(kCallEnd) != std::string::npos) {
    const std::string full = std::string(step.current_text) + delta;  // vLLM adds the delta twice
    portion = py_rstrip(before_first(after_last(full, kCallBegin), kCallEnd));
    delta = py_rstrip(before_first(delta, kCallEnd));
    text_portion = py_lstrip(after_last(delta, kCallEnd));
  }
  if (cur_start > cur_end && cur_start > prev_start) {
    if (step.delta_ids.size() > 1) {
      portion = std::string(after_last(step.current_text, kCallBegin));
    } else {
      portion.reset();
    }
    text_portion.reset();
    ++current_tool_;
    name_sent_ = false;
    streamed_args_.emplace_back();
  } else if (cur_start > cur_end && cur_start == prev_start) {
    portion = std::string(after_last(step.current_text, kCallBegin));
    text_portion.reset();
  } else if (cur_start == cur_end && cur_end >= prev_end) {
    if (prev_calls_.empty()) return std::nullopt;
    if (current_tool_ < 0 || static_cast<size_t>(current_tool_) >= prev_calls_.size()) return std::nullopt;
    const std::optional<std::string>& prev_args = prev_calls_[static_cast<size_t>(current_tool_)].arguments;
    if (prev_args && !prev_args->empty()) {
      const size_t end_loc = delta.rfind("\"}");
      if (end_loc == std::string::npos) return std::nullopt;
      std::string diff = delta.substr(0, end_loc) + "\"}";
      streamed_args_[static_cast<size_t>(current_tool_)] += diff;
      return args_delta(current_tool_, std::move(diff));
    }
  } else {
    DeltaMessage m = content_delta(replace_all(replace_all(delta, kCallBegin), kCallEnd));
    return m;
  }

  SentCall current;  // an empty dict unless the portion matched
  bool current_set = false;
  if (portion && !portion->empty()) {
    std::optional<CallHead> head = match_head(*portion, 0);
    std::optional<std::string> args = head ? match_stream_args(*portion, *head) : std::nullopt;
    if (head && args) {
      current = SentCall{head->name, *args};
    } else if (head) {
      current = SentCall{head->name, std::string()};
    } else {
      return std::nullopt;
    }
    current_set = true;
  }
  if (!name_sent_) {
    if (!current_set || !current.name || current.name->empty()) return std::nullopt;
    name_sent_ = true;
    DeltaMessage m;
    DeltaToolCall d;
    d.index = current_tool_;
    d.type = Field::of("function");
    d.id = Field::of(make_tool_call_id());
    d.has_function = true;
    d.name = Field::of(*current.name);
    m.tool_calls.push_back(std::move(d));
    return m;
  }
  if (!portion) {
    if (text_portion) return content_delta(delta);
    return std::nullopt;
  }
  if (current_tool_ < 0) return std::nullopt;
  const auto tool = static_cast<size_t>(current_tool_);
  if (prev_calls_.size() <= tool) prev_calls_.emplace_back();
  const std::string prev_args = prev_calls_[tool].arguments.value_or("");
  const std::string cur_args = current.arguments.value_or("");
  std::optional<DeltaMessage> out;
  if (!cur_args.empty() && prev_args.empty()) {
    out = args_delta(current_tool_, cur_args);
    if (tool < streamed_args_.size()) streamed_args_[tool] = cur_args;
  } else if (!cur_args.empty() && cur_args.size() > prev_args.size() &&
             cur_args.compare(0, prev_args.size(), prev_args) == 0) {
    out = args_delta(current_tool_, cur_args.substr(prev_args.size()));
    if (tool < streamed_args_.size()) streamed_args_[tool] = cur_args;
  }
  if (tool == prev_calls_.size() - 1) {
    prev_calls_[tool] = current;
  } else {
    prev_calls_.push_back(current);
  }
  return out;
}

}  // namespace

std::unique_ptr<ToolParser> make_deepseek_v3_tool_parser(const ToolParserContext& ctx) {
  return std::make_unique<DeepSeekV3ToolParser>(*ctx.vocab);
}

}  // namespace podserve::openai
