// What tool and reasoning parsers produce, in the shapes of vLLM's protocol models (FunctionCall, ToolCall,
// DeltaToolCall, DeltaMessage). Streamed deltas are serialized with pydantic's exclude_unset, so a field
// explicitly set to null differs from one never set: `Field` keeps that distinction.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

namespace podserve::openai {

/// An optional string field of a pydantic model: unset, set to null, or set to a value.
struct Field {
  bool set = false;
  std::optional<std::string> value;

  static Field of(std::string v) { return Field{true, std::move(v)}; }
  static Field null() { return Field{true, std::nullopt}; }
  bool has_value() const { return set && value.has_value(); }
};

/// A tool's function as the request declares it.
struct ToolSpec {
  std::string name;
  boost::json::value parameters;  // null when absent
  boost::json::object raw;        // the whole tool object as sent ({type, function: {...}})
};

/// One extracted call (vLLM's FunctionCall plus the ToolCall id a parser may have chosen).
struct ExtractedCall {
  std::optional<std::string> id;  // nullopt: the response gives it a fresh random id
  std::string name;
  std::string arguments;  // JSON text
};

/// A tool parser's whole-output answer (vLLM's ExtractedToolCallInformation).
struct ExtractedToolCalls {
  bool tools_called = false;
  std::vector<ExtractedCall> calls;
  std::optional<std::string> content;
};

struct DeltaToolCall {
  int index = 0;
  Field id;
  Field type;
  bool has_function = false;  // `function` set (an object, possibly empty)
  Field name;                 // function.name
  Field arguments;            // function.arguments
};

/// One streamed step (vLLM's DeltaMessage).
struct DeltaMessage {
  Field content;
  Field reasoning;
  std::vector<DeltaToolCall> tool_calls;

  bool empty_of_text() const { return !content.has_value() && !reasoning.has_value() && tool_calls.empty(); }
};

/// `delta` as vLLM serializes it (exclude_unset; empty tool_calls dropped). `reasoning_content` is written
/// beside `reasoning` when `with_reasoning_content` (clients of older vLLM read that name).
boost::json::object delta_json(const DeltaMessage& delta, bool with_reasoning_content);

/// "chatcmpl-tool-" + 16 random hex digits (vLLM's make_tool_call_id).
std::string make_tool_call_id();
/// Mistral's tool-call id: 9 random ASCII letters and digits.
std::string make_mistral_tool_call_id();

}  // namespace podserve::openai
