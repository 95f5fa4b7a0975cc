// The terminals of vLLM's qwen3 parser engine config (vllm/parser/qwen3.py), shared by the qwen3 reasoning
// parser and the qwen3_xml tool parser: the tool-call ones also decide where streamed reasoning is held back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "serve/openai/tools/literal_lexer.h"
#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai::qwen3 {

enum Terminal { kThinkStart, kThinkEnd, kToolStart, kToolEnd, kFuncPrefix, kFuncEnd, kParamStart, kParamEnd, kClose };

inline const std::vector<std::string>& literals() {
  static const std::vector<std::string> kLiterals = {"<think>",     "</think>",    "<tool_call>", "</tool_call>",
                                                     "<function=",  "</function>", "<parameter=", "</parameter>", ">"};
  return kLiterals;
}

/// The terminals matched by token id, those the vocabulary has as single tokens.
inline std::vector<MarkerToken> marker_tokens(const ParserVocab* vocab) {
  std::vector<MarkerToken> out;
  if (vocab == nullptr) return out;
  for (int t : {kThinkStart, kThinkEnd, kToolStart, kToolEnd}) {
    if (std::optional<int32_t> id = vocab->token_id(literals()[t])) out.push_back(MarkerToken{*id, t, literals()[t]});
  }
  return out;
}

}  // namespace podserve::openai::qwen3
