// The structured-output constraint vLLM builds for tool_choice "required" and a named tool on parsers without a
// model-native call format (structured-tools.md §3.2, Path A: the tool parser's adjust_request over
// get_json_schema_from_tools): required -> a JSON array (1 or more, at most 1 with parallel_tool_calls false) of
// {"name": <one tool's name>, "parameters": <its schema>} objects, every tool's `$defs` hoisted to the top;
// named -> the tool's parameters schema. Pure data: the schema text as vLLM hands it to xgrammar (json.dumps).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "serve/openai/errors.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/tools/tool_types.h"

namespace podserve::openai {

/// The JSON Schema text, nullopt when the tool choice adds no constraint (none, auto, no tools); a 400 for
/// `$defs` vLLM refuses (not an object; one name with two different schemas).
ApiResult<std::optional<std::string>> tool_choice_json_schema(const std::optional<std::vector<ToolSpec>>& tools,
                                                              const ToolChoice& choice, bool parallel_tool_calls);

/// The mistral parser's schema on a Hugging Face tokenizer (vLLM's _build_guided_schema_pre_v11): the call array
/// without its [TOOL_CALLS] marker, a non-empty array of {"name": <a tool>, "arguments": <its parameters, else
/// {"type": "object"}>} (named: only that tool, at most one call; parallel_tool_calls is not read); nullopt for
/// other choices.
std::optional<std::string> mistral_tool_choice_json_schema(const std::optional<std::vector<ToolSpec>>& tools,
                                                           const ToolChoice& choice);

}  // namespace podserve::openai
