#include "structured/json_schema.h"

#include <boost/json.hpp>
#include <set>
#include <vector>

#include "base/check.h"
#include "structured/json_schema_converter.h"
#include "structured/json_schema_strings.h"

namespace podserve::structured {
namespace {

namespace json = boost::json;

std::set<std::string> schema_types(const json::object& obj) {
  std::set<std::string> types;
  const json::value* t = obj.if_contains("type");
  if (!t) return types;
  if (t->is_string()) types.insert(std::string(t->get_string()));
  if (t->is_array()) {
    for (const auto& e : t->get_array())
      if (e.is_string()) types.insert(std::string(e.get_string()));
  }
  return types;
}

bool has_pattern_and_length_bounds(const json::object& obj) {
  return (obj.contains("pattern") || obj.contains("format")) && (obj.contains("minLength") || obj.contains("maxLength"));
}

// One object of the schema (vLLM's check_object, without its recursion).
bool unsupported_here(const json::object& obj) {
  const std::set<std::string> types = schema_types(obj);
  const auto has = [&](const char* t) { return types.count(t) > 0; };
  if ((has("integer") || has("number")) && obj.contains("multipleOf")) return true;
  if (has("array")) {
    for (const char* k : {"uniqueItems", "contains", "minContains", "maxContains"})
      if (obj.contains(k)) return true;
  }
  if (has("string")) {
    if (const json::value* f = obj.if_contains("format")) {
      // vLLM: `obj["format"] not in STRING_SUPPORTED_FORMATS` (a non-string format is not in the set).
      if (!f->is_string() || !is_supported_format(f->get_string())) return true;
    }
    if (has_pattern_and_length_bounds(obj)) return true;
  }
  if (has("object") && obj.contains("propertyNames")) {
    const json::value& names = obj.at("propertyNames");
    if (names.is_object() && has_pattern_and_length_bounds(names.get_object())) return true;
    if (obj.contains("patternProperties") || obj.contains("properties")) return true;
    const json::value* unevaluated = obj.if_contains("unevaluatedProperties");
    if (unevaluated && !(unevaluated->is_bool() && unevaluated->get_bool())) return true;
  }
  if (has("object")) {
    const json::value* pattern_props = obj.if_contains("patternProperties");
    if (pattern_props && pattern_props->is_object()) {
      if (obj.contains("properties") || pattern_props->get_object().size() > 1) return true;
    }
  }
  const json::value* all_of = obj.if_contains("allOf");
  return all_of && all_of->is_array() && all_of->get_array().size() >= 2;
}

}  // namespace

bool has_xgrammar_unsupported_json_features(const json::value& schema) {
  // vLLM recurses into every dict value and every dict inside a list value; iterative here.
  std::vector<const json::object*> stack;
  if (schema.is_object()) stack.push_back(&schema.get_object());
  while (!stack.empty()) {
    const json::object* obj = stack.back();
    stack.pop_back();
    if (unsupported_here(*obj)) return true;
    for (const auto& kv : *obj) {
      if (kv.value().is_object()) stack.push_back(&kv.value().get_object());
      if (kv.value().is_array()) {
        for (const auto& e : kv.value().get_array())
          if (e.is_object()) stack.push_back(&e.get_object());
      }
    }
  }
  return false;
}

bool exceeds_json_nesting(const json::value& value, int limit) {
  // vLLM's _exceeds_json_nesting: breadth-first, one level per round.
  std::vector<const json::value*> level{&value};
  for (int round = 0; round < limit; ++round) {
    std::vector<const json::value*> next;
    for (const json::value* node : level) {
      if (node->is_object()) {
        for (const auto& kv : node->get_object())
          if (kv.value().is_object() || kv.value().is_array()) next.push_back(&kv.value());
      } else if (node->is_array()) {
        for (const auto& e : node->get_array())
          if (e.is_object() || e.is_array()) next.push_back(&e);
      }
    }
    if (next.empty()) return false;
    level = std::move(next);
  }
  return true;
}

Result<std::string> json_schema_value_to_ebnf(const json::value& schema, const JsonSchemaOptions& options) {
  if (exceeds_json_nesting(schema)) {
    return invalid_argument("The JSON schema is nested too deeply: objects and arrays may nest at most " +
                            std::to_string(kMaxSchemaNesting) + " levels");
  }
  if (has_xgrammar_unsupported_json_features(schema)) {
    return invalid_argument("The provided JSON schema contains features not supported by xgrammar.");
  }
  Result<std::string> ebnf = convert_json_schema(schema, options);
  if (!ebnf.ok()) {
    return invalid_argument("Failed to transform json schema into a grammar: " + ebnf.status().message());
  }
  return ebnf;
}

Result<std::string> json_schema_to_ebnf(std::string_view schema_json, const JsonSchemaOptions& options) {
  json::parse_options parse_options;
  parse_options.max_depth = 100000;  // our own nesting check below gives vLLM's message
  std::error_code ec;
  json::value schema = json::parse(json::string_view(schema_json.data(), schema_json.size()), ec,
                                   json::storage_ptr(), parse_options);
  if (ec) {
    // vLLM: json.loads raising RecursionError counts as too deeply nested.
    if (ec == json::error::too_deep) {
      return invalid_argument("The JSON schema is nested too deeply: objects and arrays may nest at most " +
                              std::to_string(kMaxSchemaNesting) + " levels");
    }
    return invalid_argument("Invalid JSON grammar specification.");
  }
  return json_schema_value_to_ebnf(schema, options);
}

std::string json_object_ebnf(const JsonSchemaOptions& options) {
  Result<std::string> ebnf = convert_json_schema(json::value{{"type", "object"}}, options);
  PODSERVE_CHECK(ebnf.ok()) << ebnf.status().to_string();
  return std::move(ebnf).value();
}

}  // namespace podserve::structured
