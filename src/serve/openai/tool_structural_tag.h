// vLLM's Path B (structured-tools.md §3.2, vllm/tool_parsers/structural_tag_registry.py): a tool parser with a
// model-native call format constrains tool_choice required / named with a structural tag of that format instead
// of Path A's JSON schema. Pure data: the structural-tag JSON text as vLLM hands it to xgrammar.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "serve/openai/output_parser.h"
#include "serve/openai/tools/tool_types.h"

namespace podserve::openai {

/// The structural-tag model vLLM gives a tool parser (hermes -> "hermes", llama3_json/llama4_json -> "llama",
/// deepseek_v3 -> "deepseek_r1"), or nullptr for parsers podserve does not build a tag for yet (qwen3_xml's
/// "qwen_3_coder" needs xgrammar's qwen_xml style, openai's "harmony"; both stay unconstrained as before).
const char* structural_tag_model(const std::string& tool_call_parser);

/// The tag for tool_choice required / named (xgrammar's "forced": only the named tool, exactly one call) and auto
/// (free text, calls where a trigger starts one), nullopt for none, no tools, or auto that vLLM leaves free (no
/// tool says `strict: true` and parallel_tool_calls is not false: vLLM's resolve_tool_strictness at its default
/// --tool-strict-level auto). A tool's arguments follow its schema only when it says `strict: true`; otherwise
/// any JSON value. parallel_tool_calls false stops every call list after its first call (vLLM's
/// limit_to_single_tool_call). The caller leaves auto with a constraint of the request's own unbuilt.
std::optional<std::string> tool_choice_structural_tag(const char* model, const std::optional<std::vector<ToolSpec>>& tools,
                                                      const ToolChoice& choice, bool parallel_tool_calls);

}  // namespace podserve::openai
