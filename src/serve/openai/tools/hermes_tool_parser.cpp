// hermes / qwen3_json: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, repeated (vLLM's
// Hermes2ProToolParser). Whole output: every closed block plus a trailing unclosed one is decoded, arguments
// re-serialized; content is the text before the first block. Streaming: text before a block (holding back a
// partial tag), then per block id + name once `"name": "..."` closes, then the raw text after `"arguments":`
// as it grows, without the outer `}` once the block's JSON is complete.
#include "serve/openai/tools/tool_parsers.h"


#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

constexpr std::string_view kToolCallStart = "<tool_call>";
constexpr std::string_view kToolCallEnd = "</tool_call>";

class HermesToolParser final : public ToolParser {
 public:
  ExtractedToolCalls extract(std::string_view output) override;
  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override;
  bool supports_required_and_named() const override { return false; }  // structural tag "hermes"
  bool keeps_special_tokens_with_tools() const override { return true; }

 private:
  std::optional<std::string> content_to_send(std::string_view current);
  size_t sent_content_ = 0;
};

/// Python regex `\s` over ASCII (the JSON whitespace models write).
size_t skip_regex_space(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v')) ++i;
  return i;
}

struct Block {
  std::string_view body;
  bool closed = false;
};

/// `<tool_call>(.*?)</tool_call>|<tool_call>(.*)` with DOTALL: the bodies, in order (only the last may be open).
std::vector<Block> blocks_of(std::string_view text) {
  std::vector<Block> out;
  size_t pos = 0;
  while (true) {
    const size_t start = text.find(kToolCallStart, pos);
    if (start == std::string_view::npos) break;
    const size_t body = start + kToolCallStart.size();
    const size_t end = text.find(kToolCallEnd, body);
    if (end == std::string_view::npos) {
      out.push_back({text.substr(body), false});
      break;
    }
    out.push_back({text.substr(body, end - body), true});
    pos = end + kToolCallEnd.size();
  }
  return out;
}

ExtractedToolCalls HermesToolParser::extract(std::string_view output) {
  ExtractedToolCalls r;
  const size_t first = output.find(kToolCallStart);
  if (first == std::string_view::npos) {
    r.content = std::string(output);
    return r;
  }
  for (const Block& block : blocks_of(output)) {
    std::optional<boost::json::value> v = json_loads(block.body);
    const boost::json::object* obj = v ? v->if_object() : nullptr;
    const boost::json::value* name = obj ? obj->if_contains("name") : nullptr;
    const boost::json::value* args = obj ? obj->if_contains("arguments") : nullptr;
    if (name == nullptr || !name->is_string() || args == nullptr) {  // vLLM: any failure -> no calls
      return ExtractedToolCalls{false, {}, std::string(output)};
    }
    r.calls.push_back(ExtractedCall{std::nullopt, std::string(name->get_string()), json_dumps(*args, false)});
  }
  r.tools_called = true;
  if (first > 0) r.content = std::string(output.substr(0, first));
  return r;
}

std::optional<std::string> HermesToolParser::content_to_send(std::string_view current) {
  const size_t tag = current.find(kToolCallStart);
  const size_t sendable = tag == std::string_view::npos ? current.size() - partial_tag_overlap(current, kToolCallStart) : tag;
  if (sendable <= sent_content_) return std::nullopt;
  std::string content(current.substr(sent_content_, sendable - sent_content_));
  sent_content_ = sendable;
  return content;
}

struct BlockJson {
  std::string json;
  bool complete = false;
};

/// Each `<tool_call>` region's stripped JSON text and whether it is complete.
std::vector<BlockJson> block_jsons(std::string_view text) {
  std::vector<BlockJson> out;
  for (const Block& block : blocks_of(text)) {
    if (block.closed) {
      out.push_back({py_strip(block.body), true});
      continue;
    }
    std::string_view raw = block.body;
    raw.remove_suffix(partial_tag_overlap(raw, kToolCallEnd));
    std::string json = py_strip(raw);
    const bool complete = !json.empty() && is_complete_json(json);
    out.push_back({std::move(json), complete});
  }
  return out;
}

/// Where `"key"\s*:\s*` matches at offset `p`: the offset past it.
std::optional<size_t> key_match_at(std::string_view json, std::string_view quoted_key, size_t p) {
  const size_t i = skip_regex_space(json, p + quoted_key.size());
  if (i >= json.size() || json[i] != ':') return std::nullopt;
  return skip_regex_space(json, i + 1);
}

/// `"key"\s*:\s*` searched: the offset past the first match.
std::optional<size_t> after_key(std::string_view json, std::string_view quoted_key) {
  for (size_t p = json.find(quoted_key); p != std::string_view::npos; p = json.find(quoted_key, p + 1)) {
    if (std::optional<size_t> v = key_match_at(json, quoted_key, p)) return v;
  }
  return std::nullopt;
}

/// `"name"\s*:\s*"([^"]+)"`: the first match's name.
std::optional<std::string> tool_name(std::string_view json) {
  constexpr std::string_view kKey = "\"name\"";
  for (size_t p = json.find(kKey); p != std::string_view::npos; p = json.find(kKey, p + 1)) {
    std::optional<size_t> v = key_match_at(json, kKey, p);
    if (!v || *v >= json.size() || json[*v] != '"') continue;
    const size_t close = json.find('"', *v + 1);
    if (close == std::string_view::npos || close == *v + 1) continue;
    return std::string(json.substr(*v + 1, close - *v - 1));
  }
  return std::nullopt;
}

/// The text after `"arguments"\s*:\s*`; a complete block loses its outer closing brace.
std::optional<std::string> tool_args(std::string_view json, bool complete) {
  std::optional<size_t> start = after_key(json, "\"arguments\"");
  if (!start) return std::nullopt;
  std::string raw(json.substr(*start));
  if (complete) {
    raw = py_rstrip(raw);
    if (!raw.empty() && raw.back() == '}') {
      raw.pop_back();
      raw = py_rstrip(raw);
    }
  }
  return raw;
}

std::optional<DeltaMessage> HermesToolParser::extract_streaming(const StreamStep& step) {
  std::optional<std::string> content = content_to_send(step.current_text);
  std::vector<BlockJson> blocks = block_jsons(step.current_text);
  std::vector<DeltaToolCall> deltas;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i >= prev_calls_.size()) {
      prev_calls_.emplace_back();
      streamed_args_.emplace_back();
    }
    if (!prev_calls_[i].name) {
      std::optional<std::string> name = tool_name(blocks[i].json);
      if (!name) break;  // call i must be announced before call i + 1
      prev_calls_[i].name = name;
      DeltaToolCall d;
      d.index = static_cast<int>(i);
      d.type = Field::of("function");
      d.id = Field::of(make_tool_call_id());
      d.has_function = true;
      d.name = Field::of(*name);
      deltas.push_back(std::move(d));
    }
    std::optional<std::string> args = tool_args(blocks[i].json, blocks[i].complete);
    if (args && args->size() > streamed_args_[i].size()) {
      std::string diff = args->substr(streamed_args_[i].size());
      streamed_args_[i] = *args;
      prev_calls_[i].arguments = *args;
      DeltaToolCall d;
      d.index = static_cast<int>(i);
      d.has_function = true;
      d.arguments = Field::of(std::move(diff));
      deltas.push_back(std::move(d));
    }
  }
  if ((content && !content->empty()) || !deltas.empty()) {
    DeltaMessage m;
    m.content = content ? Field::of(*content) : Field::null();
    m.tool_calls = std::move(deltas);
    return m;
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<ToolParser> make_hermes_tool_parser(const ToolParserContext&) {
  return std::make_unique<HermesToolParser>();
}

}  // namespace podserve::openai
