// granite (vLLM's GraniteParser tool adapter over its declarative ParserEngine): a JSON array of calls after
// a marker, `<|tool_call|>` (Granite 3.0, one token) or `<tool_call>` (3.1, text):
//   <|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, ...]
// The array has no closing marker: its `]` ends it and what follows is content. Each `{...}` element is one
// call whose name is read from its text and whose arguments are the "arguments" member's text, verbatim while
// streaming. A marker not followed by `[` goes back to content (the whitespace after it is dropped, as vLLM).
#include <algorithm>

#include "serve/openai/tools/ascii_space.h"
#include "serve/openai/tools/engine_tool_parser.h"
#include "serve/openai/tools/literal_lexer.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

enum GraniteTerminal { kToolToken, kToolString };

std::vector<MarkerToken> granite_markers(const ParserVocab* vocab) {
  if (vocab == nullptr) return {};
  if (std::optional<int32_t> id = vocab->token_id("<|tool_call|>")) return {MarkerToken{*id, kToolToken, "<|tool_call|>"}};
  return {};
}


/// vLLM's scan_json_object_end: the end of the object opening at `start`, or npos while unterminated.
size_t object_end(std::string_view raw, size_t start) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (size_t i = start; i < raw.size(); ++i) {
    const char c = raw[i];
    if (escape) {
      escape = false;
    } else if (in_string) {
      if (c == '\\') escape = true;
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

/// vLLM's _granite_arg_converter (extract_json_member_object(raw, "arguments")): the verbatim text of the
/// element's top-level "arguments" object, possibly unterminated; nullopt where vLLM raises (not an object).
std::optional<std::string> arguments_member(std::string_view raw, bool partial) {
  std::optional<std::string> out;
  bool not_object = false;
  scan_top_level_members(raw, [&](std::optional<std::string_view> key, bool, size_t colon) {
    if (key != "arguments") return false;
    size_t v = colon + 1;
    while (v < raw.size() && is_json_space(raw[v])) ++v;
    if (v >= raw.size()) return true;  // the value has not started
    if (raw[v] != '{') {
      not_object = true;
      return true;
    }
    const size_t end = object_end(raw, v);
    out = std::string(end == std::string_view::npos ? raw.substr(v) : raw.substr(v, end - v));
    return true;
  });
  if (not_object) return std::nullopt;
  if (!out) out = std::string(partial ? "" : "{}");
  return out;
}

size_t utf8_length(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

class GraniteToolParser final : public EngineToolParser {
 public:
  explicit GraniteToolParser(const ToolParserContext& ctx)
      : EngineToolParser(ctx), stream_({"<|tool_call|>", "<tool_call>"}, granite_markers(ctx.vocab)) {}

 private:
  void reset_front() override {
    in_args_ = false;
    index_ = -1;
    stream_.reset();
    reset_element();
    reset_array();
  }

  std::optional<std::string> convert_args(std::string_view raw, bool partial) const override {
    return arguments_member(raw, partial);
  }

  void feed_front(std::string_view delta, std::span<const int32_t> ids, std::vector<Event>& out) override {
    stream_.feed(delta, ids, sink(out));
  }

  void finish_front(std::vector<Event>& out) override {
    stream_.flush(sink(out));
    if (!args_.buffer.empty()) {
      out.push_back({Ev::kArg, args_.buffer, index_});
      args_.buffer.clear();
    }
    if (in_args_) {
      if (in_element_ && index_ >= 0) out.push_back({Ev::kCallEnd, {}, index_});
      in_args_ = false;
    }
  }

  TerminalStream::Sink sink(std::vector<Event>& out) {
    return [this, &out](int t, std::string_view s) {
      if (t != LexPiece::kContent && !in_args_) {  // either marker opens the array region
        in_args_ = true;
        reset_element();
        reset_array();
        return;
      }
      on_text(s, out);  // a marker inside the region is text of it
    };
  }

  void on_text(std::string_view text, std::vector<Event>& out) {
    for (size_t i = 0; i < text.size();) {
      if (!in_args_) {
        out.push_back({Ev::kText, std::string(text.substr(i)), index_});
        return;
      }
      const size_t n = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
      array_char(text.substr(i, n), out);
      i += n;
    }
  }

  // vLLM's _feed_array_char: elements stream through the JSON argument buffer; between them only `[`, `,`,
  // whitespace and `]` belong to the array, anything else ends the region as content.
  void array_char(std::string_view ch, std::vector<Event>& out) {
    if (in_element_) {
      element_char(ch, out);
      if (ch == "}" && !args_.in_string && !args_.escape && args_.depth == 0) end_element(out);
      return;
    }
    if (ch.size() == 1 && is_json_space(ch[0])) return;
    if (!array_started_ && ch == "[") {
      array_started_ = true;
    } else if (array_started_ && ch == ",") {
    } else if (array_started_ && ch == "{") {
      ++index_;
      reset_element();
      in_element_ = true;
      out.push_back({Ev::kCallStart, {}, index_});
      element_char(ch, out);
    } else if (array_started_ && ch == "]") {
      in_args_ = false;
      reset_array();
    } else {
      in_args_ = false;
      reset_array();
      out.push_back({Ev::kText, std::string(ch), index_});
    }
  }

  // vLLM's _feed_args_char: text streams as it comes, except a closing bracket back at depth 0 (held until
  // the next character or the element's end).
  void element_char(std::string_view ch, std::vector<Event>& out) {
    if (!args_.add(ch)) return;
    out.push_back({Ev::kArg, args_.buffer, index_});
    args_.buffer.clear();
  }

  void end_element(std::vector<Event>& out) {
    in_element_ = false;
    if (!args_.buffer.empty()) out.push_back({Ev::kArg, args_.buffer, index_});
    args_.buffer.clear();
    out.push_back({Ev::kCallEnd, {}, index_});
  }

  void reset_element() { args_.reset(); }
  void reset_array() { array_started_ = in_element_ = false; }

  TerminalStream stream_;
  bool in_args_ = false;
  int index_ = -1;
  HeldArgsText args_;
  bool array_started_ = false, in_element_ = false;
};

}  // namespace

std::unique_ptr<ToolParser> make_granite_tool_parser(const ToolParserContext& ctx) {
  return std::make_unique<GraniteToolParser>(ctx);
}

}  // namespace podserve::openai
