// Log-probabilities in vLLM's JSON shapes (engines.md §1.5): chat `{"content":[{token, logprob, bytes,
// top_logprobs}]}`, the legacy completions shape `{text_offset, token_logprobs, tokens, top_logprobs}`, and
// `prompt_logprobs` (`[null, {"<id>": {logprob, rank, decoded_token}}, ...]`).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "engine/request.h"

namespace podserve::openai {

/// The raw bytes a token stands for (Tokenizer::token_bytes); injected so the JSON code needs no tokenizer.
using TokenBytesFn = std::function<std::string(int32_t)>;

/// `bytes` as text: valid UTF-8 is kept, each invalid or incomplete sequence becomes U+FFFD (Python's
/// `decode("utf-8", errors="replace")`), so a token holding half a character still serializes as valid JSON.
std::string utf8_replace(std::string_view bytes);
/// Code points in valid UTF-8 text (Python's len(), which vLLM's text_offset counts in).
size_t utf8_length(std::string_view text);

/// Chat `logprobs`: `{"content":[...]}` for these tokens; each entry has at most `top_n` alternatives.
boost::json::value chat_logprobs_json(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n);

/// Completions `logprobs` (legacy shape). `text_offset` is the choice's text length so far, in code points; it
/// advances past these tokens. Each top_logprobs entry holds the chosen token and up to `top_n` alternatives.
boost::json::value completion_logprobs_json(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                                            size_t* text_offset);

/// Completions `logprobs` with `echo` (vLLM): the echoed prompt's tokens, then the generated ones. The first prompt
/// token has null `token_logprobs` and `top_logprobs` (nothing predicts it); `prompt` holds the engine's logprobs
/// of the later prompt tokens. Offsets run from `*text_offset` over all of them.
boost::json::value completion_echo_logprobs_json(int32_t first_prompt_token, std::span<const TokenLogprobs> prompt,
                                                 std::span<const TokenLogprobs> generated, const TokenBytesFn& bytes,
                                                 int top_n, size_t* text_offset);

/// `prompt_logprobs`: null for the first prompt token (nothing predicts it), then one object per later token
/// keyed by token id: the prompt token itself (its rank) and the top alternatives.
boost::json::value prompt_logprobs_json(std::span<const TokenLogprobs> positions, const TokenBytesFn& bytes);

}  // namespace podserve::openai
