// vLLM's tool parsers by name (vllm/tool_parsers/__init__.py), those podserve implements.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai {

std::unique_ptr<ToolParser> make_hermes_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_deepseek_v3_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_phi4_mini_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_llama_json_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_pythonic_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_qwen3_xml_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_granite_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_openai_tool_parser(const ToolParserContext& ctx);
/// mistral: the JSON-array format on a vocabulary without [ARGS] (pre-v11), `name[ARGS]{json}` with it.
std::unique_ptr<ToolParser> make_mistral_tool_parser(const ToolParserContext& ctx);
std::unique_ptr<ToolParser> make_mistral_json_tool_parser(const ToolParserContext& ctx);

/// The factory for a tool parser name, or null when podserve has none by that name.
ToolParserFactory find_tool_parser(std::string_view name);
/// Every name find_tool_parser accepts, sorted.
std::vector<std::string> tool_parser_names();
/// Markers (token texts) a tool parser needs as single tokens of the vocabulary; empty when none.
std::vector<std::string_view> tool_parser_required_tokens(std::string_view name);

}  // namespace podserve::openai
