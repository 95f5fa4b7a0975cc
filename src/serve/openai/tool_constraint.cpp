#include "serve/openai/tool_constraint.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

/// Empty or missing parameters still constrain the arguments to an object (vLLM's _params_or_empty_object).
json::value params_or_empty_object(const json::value& params) {
  const bool empty = params.is_null() || (params.is_object() && params.get_object().empty());
  if (!empty) return params;
  return json::object{{"type", "object"}, {"properties", json::object{}}};
}

/// Python's type(x).__name__ for the JSON value a `$defs` holds.
const char* py_type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "NoneType";
    case json::kind::bool_: return "bool";
    case json::kind::int64:
    case json::kind::uint64: return "int";
    case json::kind::double_: return "float";
    case json::kind::string: return "str";
    case json::kind::array: return "list";
    case json::kind::object: return "dict";
  }
  return "object";
}

ApiResult<std::string> required_schema(const std::vector<ToolSpec>& tools, bool parallel_tool_calls) {
  // vLLM pops `$defs` out of each tool's parameters (after building the items, which share those dicts, so
  // they lose it too) and hoists them; one name must mean one schema.
  json::object all_defs;
  json::array any_of;
  for (const ToolSpec& tool : tools) {
    json::value params = params_or_empty_object(tool.parameters);
    if (!tool.parameters.is_null() && params.is_object()) {
      json::object& p = params.get_object();
      if (const json::value* defs = p.if_contains("$defs")) {
        if (!defs->is_object()) {
          return validation_error("`$defs` in the parameters of tool '" + tool.name + "' must be an object, got " +
                                      py_type_name(*defs) + ".",
                                  "tools");
        }
        for (const auto& kv : defs->get_object()) {
          const json::value* seen = all_defs.if_contains(kv.key());
          if (seen != nullptr && *seen != kv.value()) {
            return validation_error(
                "Tool definition '" + std::string(kv.key()) + "' has multiple schemas, which is not supported.",
                "tools");
          }
          all_defs[kv.key()] = kv.value();
        }
        p.erase("$defs");
      }
    }
    any_of.emplace_back(json::object{
        {"properties", json::object{{"name", json::object{{"type", "string"}, {"enum", json::array{json::string(tool.name)}}}},
                                    {"parameters", std::move(params)}}},
        {"required", json::array{"name", "parameters"}}});
  }
  json::object schema{{"type", "array"}, {"minItems", 1}, {"items", json::object{{"type", "object"}, {"anyOf", std::move(any_of)}}}};
  if (!parallel_tool_calls) schema["maxItems"] = 1;
  if (!all_defs.empty()) schema["$defs"] = std::move(all_defs);
  return json_dumps(schema, true);
}

}  // namespace

std::optional<std::string> mistral_tool_choice_json_schema(const std::optional<std::vector<ToolSpec>>& tools,
                                                           const ToolChoice& choice) {
  if (!tools || (choice.kind != ToolChoice::kRequired && choice.kind != ToolChoice::kNamed)) return std::nullopt;
  json::array any_of;
  for (const ToolSpec& tool : *tools) {
    if (choice.kind == ToolChoice::kNamed && tool.name != choice.name) continue;
    // vLLM: `parameters or {"type": "object"}` (an empty or absent schema counts as none).
    const bool has_params = tool.parameters.is_object() && !tool.parameters.get_object().empty();
    any_of.emplace_back(json::object{
        {"type", "object"},
        {"properties", json::object{{"name", json::object{{"type", "string"}, {"enum", json::array{json::string(tool.name)}}}},
                                    {"arguments", has_params ? tool.parameters : json::object{{"type", "object"}}}}},
        {"required", json::array{"name", "arguments"}}});
  }
  if (any_of.empty()) return std::nullopt;  // vLLM logs the unknown name and adds nothing
  json::object schema{{"type", "array"}, {"minItems", 1}};
  if (choice.kind == ToolChoice::kNamed) schema["maxItems"] = 1;
  schema["items"] = json::object{{"type", "object"}, {"anyOf", std::move(any_of)}};
  return json_dumps(schema, true);
}

ApiResult<std::optional<std::string>> tool_choice_json_schema(const std::optional<std::vector<ToolSpec>>& tools,
                                                              const ToolChoice& choice, bool parallel_tool_calls) {
  if (!tools) return std::optional<std::string>();
  if (choice.kind == ToolChoice::kNamed) {
    for (const ToolSpec& tool : *tools) {
      // vLLM's name -> tool map keeps the last tool of a name.
      if (tool.name != choice.name) continue;
      const ToolSpec* last = &tool;
      for (const ToolSpec& t : *tools) {
        if (t.name == choice.name) last = &t;
      }
      return std::optional<std::string>(json_dumps(params_or_empty_object(last->parameters), true));
    }
    return std::optional<std::string>();  // protocol validation already refused an unknown name
  }
  if (choice.kind != ToolChoice::kRequired) return std::optional<std::string>();
  ApiResult<std::string> schema = required_schema(*tools, parallel_tool_calls);
  if (!schema.ok()) return schema.error();
  return std::optional<std::string>(std::move(schema).value());
}

}  // namespace podserve::openai
