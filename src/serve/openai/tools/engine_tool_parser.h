// The back end of vLLM's declarative parser engine (vllm/parser/engine/parser_engine.py) for tool calls: the
// semantic events a model-specific front end emits (text, call start, name, argument text, call end) become
// streamed deltas and the whole-output answer. Argument text goes through the config's arg_converter, is
// coerced to the tool's schema types (coerce_to_schema_type), and streams as the JSON's stable prefix.
// Front ends: qwen3_xml (tag markup), granite (a JSON array after a marker) and mistral v11+ (name[ARGS]{json}).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai {

/// vLLM's extract_types_from_schema: the JSON types a property's schema allows ("string" when it says none).
std::set<std::string> schema_types(const boost::json::value& schema);

/// Walks the top-level object of (possibly partial) JSON text `s`, string- and escape-aware: at each ':' of
/// depth 1, `visit(key, fresh, offset)` gets the last string closed at depth 1 (`fresh`: since the previous
/// ':'); returning true stops the walk.
using MemberVisitor = std::function<bool(std::optional<std::string_view> key, bool fresh, size_t colon)>;
void scan_top_level_members(std::string_view s, const MemberVisitor& visit);

/// vLLM's _feed_args_char: JSON argument text streams as it comes, except a closing bracket back at depth 0
/// (held until the next character or the call's end).
struct HeldArgsText {
  std::string buffer;
  int depth = 0;
  bool in_string = false, escape = false;

  /// Appends one character (a byte, or a whole UTF-8 sequence); true when the buffer may be sent now.
  bool add(std::string_view ch);
  void reset() { *this = HeldArgsText{}; }
};

class EngineToolParser : public ToolParser {
 public:
  explicit EngineToolParser(const ToolParserContext& ctx);

  bool engine_based() const override { return true; }
  void set_tool_choice_none() override { suppress_ = !tools_.empty(); }

  ExtractedToolCalls extract(std::string_view output) override;
  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override;
  std::optional<DeltaMessage> finish_streaming() override;

 protected:
  // kReasoning: text of a reasoning span the front end entered after content (mistral's [THINK] in the tool
  // phase); streamed as reasoning, dropped from a whole answer.
  enum class Ev { kText, kCallStart, kName, kArg, kCallEnd, kReasoning };
  struct Event {
    Ev type;
    std::string value;
    int index;
  };

  /// The front end: starts over, takes a step's text and ids, and flushes what it holds at the end (closing
  /// an open call).
  virtual void reset_front() = 0;
  virtual void feed_front(std::string_view delta, std::span<const int32_t> ids, std::vector<Event>& out) = 0;
  virtual void finish_front(std::vector<Event>& out) = 0;
  /// The config's arg_converter: a call's raw argument text to JSON (`partial` while it streams); nullopt
  /// where vLLM's converter raises.
  virtual std::optional<std::string> convert_args(std::string_view raw, bool partial) const = 0;

  // Front ends that override ParserEngine's defaults (mistral):
  /// No arg_converter: argument text streams as it comes, nothing is flushed at a call's end, and a whole
  /// output's arguments are convert_args(raw, false).
  virtual bool streams_raw_args() const { return false; }
  /// _accept_tool_name: a call with this name is reported.
  virtual bool accept_name(std::string_view name) const { return !name.empty(); }
  /// _extract_name_and_args for a call whose name is empty: a JSON body naming the function, by default.
  virtual std::pair<std::string, std::string> body_name_and_args(std::string_view raw) const;
  /// _try_extract_name: a name read from the argument text, by default its "name" member.
  virtual std::optional<std::string> name_from_args(std::string_view args) const;
  /// The argument text of the event that announced a call is sent with it too (mistral's opening `{`).
  virtual bool echo_first_args() const { return false; }
  virtual std::string new_call_id() const { return make_tool_call_id(); }

 private:
  struct Slot {
    std::string name;
    std::string args;
    bool name_sent = false;
    std::optional<std::set<std::string>> string_keys;
    std::string streamed_json;
  };

  void reset();
  const boost::json::value* properties_of(std::string_view name) const;
  std::optional<std::set<std::string>> streamable_string_keys(std::string_view name) const;
  std::string fix_arg_types(const std::string& args_json, std::string_view name) const;
  void announce(int idx, const std::string& name, std::vector<DeltaToolCall>& deltas, std::optional<std::string> args);
  std::optional<std::string> arg_delta(Slot& s, std::string_view raw_delta);
  std::optional<std::string> flush_args(Slot& s);
  void on_arg(const Event& e, std::vector<DeltaToolCall>& deltas);
  void on_call_end(const Event& e, std::vector<DeltaToolCall>& deltas);
  std::optional<DeltaMessage> events_to_delta(const std::vector<Event>& events, bool finished);
  std::optional<DeltaMessage> strip_trailing_reasoning(std::optional<DeltaMessage> m);

  std::vector<ToolSpec> tools_;
  bool suppress_ = false;
  bool streaming_ = false;
  std::vector<Slot> slots_;
  std::string deferred_;
  std::string deferred_reasoning_;
  bool content_has_nonws_ = false;
};

}  // namespace podserve::openai
