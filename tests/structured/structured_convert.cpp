// Test driver for tests/structured: one JSON request per stdin line, one JSON answer per stdout line.
//   {"schema": <schema or its text>, "options": {"any_whitespace", "indent", "separators", "strict_mode"}}
//   {"regex": "...", "json_string": false}
// -> {"ebnf": "..."} or {"error": "..."}
#include <boost/json.hpp>
#include <iostream>
#include <string>

#include "structured/json_schema.h"
#include "structured/regex_to_ebnf.h"

namespace json = boost::json;
using namespace podserve::structured;

namespace {

json::object answer(const podserve::Result<std::string>& r) {
  json::object out;
  if (r.ok()) out["ebnf"] = *r;
  else out["error"] = r.status().message();
  return out;
}

json::object handle(const json::object& req) {
  if (const json::value* re = req.if_contains("regex")) {
    RegexOptions options;
    if (const json::value* js = req.if_contains("json_string")) options.json_string = js->as_bool();
    return answer(regex_to_ebnf(std::string(re->as_string()), options));
  }
  JsonSchemaOptions options;
  if (const json::value* o = req.if_contains("options")) {
    const json::object& opts = o->as_object();
    if (const json::value* v = opts.if_contains("any_whitespace")) options.any_whitespace = v->as_bool();
    if (const json::value* v = opts.if_contains("strict_mode")) options.strict_mode = v->as_bool();
    if (const json::value* v = opts.if_contains("indent"); v && !v->is_null()) options.indent = static_cast<int>(v->as_int64());
    if (const json::value* v = opts.if_contains("separators"); v && !v->is_null()) {
      options.separators = std::make_pair(std::string(v->as_array()[0].as_string()), std::string(v->as_array()[1].as_string()));
    }
  }
  if (req.contains("json_object")) {
    json::object out;
    out["ebnf"] = json_object_ebnf(options);
    return out;
  }
  const json::value& schema = req.at("schema");
  if (schema.is_string()) return answer(json_schema_to_ebnf(std::string(schema.as_string()), options));
  return answer(json_schema_value_to_ebnf(schema, options));
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    json::parse_options parse_options;
    parse_options.max_depth = 100000;
    const json::value req = json::parse(line, {}, parse_options);
    std::cout << json::serialize(handle(req.as_object())) << "\n" << std::flush;
  }
  return 0;
}
