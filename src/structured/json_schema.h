// JSON Schema -> EBNF (xgrammar's dialect), with the language xgrammar 0.2.8 builds under vLLM's settings
// (`Grammar.from_json_schema`: any_whitespace unbounded, strict_mode), plus vLLM's checks before it.
// Errors are InvalidArgument with vLLM's message, ready for its 400:
//   "The JSON schema is nested too deeply: objects and arrays may nest at most 64 levels"
//   "Invalid JSON grammar specification."             (the text is not JSON)
//   "The provided JSON schema contains features not supported by xgrammar."  (has_xgrammar_unsupported_json_features)
//   "Failed to transform json schema into a grammar: <why>"  (what xgrammar rejects, and hostile schemas)
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace podserve::structured {

/// xgrammar's `from_json_schema` options.
struct JsonSchemaOptions {
  /// Any run of [ \n\r\t] between tokens (vLLM: true unless disable_any_whitespace). When false, the
  /// separators (and indent) are the only whitespace.
  bool any_whitespace = true;
  /// Spaces per level when !any_whitespace (pretty-printed JSON); nullopt: one line.
  std::optional<int> indent;
  /// (item separator, key separator) when !any_whitespace; default (", ", ": "), or (",", ": ") with indent.
  /// vLLM passes (",", ":") with disable_any_whitespace.
  std::optional<std::pair<std::string, std::string>> separators;
  /// Strict mode: objects/arrays with properties/items but no additionalProperties/items allow no more.
  bool strict_mode = true;
};

inline constexpr int kMaxSchemaNesting = 64;  // vLLM's MAX_STRUCTURED_OUTPUT_JSON_NESTING

/// The grammar (`root ::= ...` plus its rules) for JSON text valid under `schema_json`.
Result<std::string> json_schema_to_ebnf(std::string_view schema_json, const JsonSchemaOptions& options = {});
/// The same for a schema already parsed (a request's `json_schema.schema` object).
Result<std::string> json_schema_value_to_ebnf(const boost::json::value& schema, const JsonSchemaOptions& options = {});

/// The `json_object` grammar: any JSON object (vLLM compiles schema {"type": "object"}).
std::string json_object_ebnf(const JsonSchemaOptions& options = {});

/// vLLM's `has_xgrammar_unsupported_json_features` (backend_xgrammar.py), which rejects a schema before
/// xgrammar sees it.
bool has_xgrammar_unsupported_json_features(const boost::json::value& schema);

/// vLLM's `check_json_nesting`: true when objects/arrays nest deeper than `limit` levels.
bool exceeds_json_nesting(const boost::json::value& value, int limit = kMaxSchemaNesting);

}  // namespace podserve::structured
