// JSON bodies of OpenAI responses and stream chunks, in vLLM's shapes and field order (engines.md §1.5).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/request.h"
#include "serve/lora_config.h"
#include "serve/openai/tools/tool_types.h"

namespace podserve::openai {

/// What every response and chunk of one request carries.
struct ResponseMeta {
  std::string id;       // "chatcmpl-<hex>" / "cmpl-<hex>"
  int64_t created = 0;  // unix seconds
  std::string model;    // served model name
};

struct Usage {
  Usage() = default;
  Usage(int prompt, int completion) : prompt_tokens(prompt), completion_tokens(completion) {}
  int prompt_tokens = 0;
  int completion_tokens = 0;
  /// --enable-prompt-tokens-details: prompt tokens served from the prefix cache (whole blocks).
  std::optional<int> cached_tokens;
  std::optional<int> reasoning_tokens;  // completion_tokens_details, with a reasoning parser
};

using StopReason = std::variant<std::monostate, std::string, int32_t>;

/// How a choice ended (nullopt finish = still running).
struct Finish {
  FinishReason reason = FinishReason::kNone;
  StopReason stop_reason;
};

/// A new random id: prefix + 32 hex digits.
std::string make_request_id(std::string_view prefix);
int64_t unix_now();

/// A chat message after output parsing: content, reasoning and tool calls (ids final).
struct ParsedMessage {
  std::optional<std::string> content;
  std::optional<std::string> reasoning;
  std::vector<ExtractedCall> tool_calls;
};

/// One choice of a response, or one streamed piece of a choice.
struct ChoiceOutput {
  int index = 0;
  std::string text;                // the whole text (responses) or this piece (chunks)
  boost::json::value logprobs;     // null unless requested (logprobs_json.h renders it)
  std::optional<Finish> finish;    // chunks: set only on the choice's last chunk
  boost::json::value prompt_logprobs;  // completions: this choice's prompt's (a batch); null = the response's
  /// return_token_ids: the generated ids (of this piece, in chunks) and the prompt's (chat: at the top level of
  /// the response or of a choice's first chunk; completions: on the choice, in a stream on its first chunk).
  std::optional<std::vector<int32_t>> token_ids;
  std::optional<std::vector<int32_t>> prompt_token_ids;
  // Chat with tool / reasoning parsers: the parsed message (responses) or delta (chunks) replaces `text`.
  std::optional<ParsedMessage> message;
  std::optional<DeltaMessage> delta;
  std::optional<std::string> finish_reason_override;  // "tool_calls"
};

/// `chat.completion`: the choices in index order, the whole message each. `prompt_logprobs` is null unless
/// requested.
std::string chat_completion_json(const ResponseMeta& meta, const std::string& role,
                                 const std::vector<ChoiceOutput>& choices, const Usage& usage,
                                 const boost::json::value& prompt_logprobs = nullptr);
/// `chat.completion.chunk` for one choice. `role` set only on a choice's first chunk; `usage` only with
/// continuous usage stats.
std::string chat_chunk_json(const ResponseMeta& meta, const std::optional<std::string>& role,
                            const ChoiceOutput& choice, const std::optional<Usage>& usage);
/// The final usage chunk of a chat stream: `"choices": []` plus usage.
std::string chat_usage_chunk_json(const ResponseMeta& meta, const Usage& usage);

/// `text_completion`; each choice carries `prompt_logprobs` (null unless requested), as in vLLM: its own
/// (ChoiceOutput::prompt_logprobs, a batch's prompt) or else `prompt_logprobs`.
std::string completion_json(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                            const boost::json::value& prompt_logprobs = nullptr);
/// A `text_completion` stream chunk for one choice.
std::string completion_chunk_json(const ResponseMeta& meta, const ChoiceOutput& choice,
                                  const std::optional<Usage>& usage);
std::string completion_usage_chunk_json(const ResponseMeta& meta, const Usage& usage);

/// GET /v1/models: a ModelList with one ModelCard per served name (vLLM's base_model_paths), all of the same
/// model file (`root`), then one per LoRA adapter (its path as `root`, its base as `parent`).
std::string model_list_json(const std::vector<std::string>& served_names, const std::string& root, int64_t created,
                            int max_model_len, const std::vector<ServedLora>& loras = {});

}  // namespace podserve::openai
