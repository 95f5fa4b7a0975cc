// Typed OpenAI requests (vLLM's subset that podserve implements) and their parsing from a request body. Every
// field is type- and range-checked here; fields that would change behaviour but are not implemented yet are a
// 400 naming the field, unknown fields are collected so the caller can log them (as vLLM does).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/request.h"
#include "serve/openai/errors.h"
#include "serve/openai/output_parser.h"
#include "serve/openai/structured_fields.h"
#include "serve/openai/tools/tool_types.h"

namespace podserve::openai {

/// Fields shared by /v1/chat/completions and /v1/completions.
struct CommonRequest {
  std::optional<std::string> model;     // nullopt = the served model
  SamplingParams sampling;              // everything but max_tokens, which depends on the prompt
  std::optional<int64_t> max_tokens;    // max_completion_tokens, else max_tokens; nullopt = endpoint default
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  bool continuous_usage = false;        // stream_options.continuous_usage_stats
  std::optional<std::string> request_id;
  /// Keep only the last N prompt tokens (left truncation); -1 = max_model_len. Checked against the model later.
  std::optional<int64_t> truncate_prompt_tokens;
  /// echo: completions prepend the prompt, chat the last message when it has the response role (vLLM).
  /// With echo, max_tokens may be 0 (echo only).
  bool echo = false;
  // vLLM's token fields (token_fields.h).
  std::optional<std::vector<int64_t>> allowed_token_ids;  // range-checked against the vocabulary later
  std::vector<std::string> bad_words;                     // tokenized against the model later
  std::optional<bool> return_tokens_as_token_ids;         // nullopt = the server's --return-tokens-as-token-ids
  bool return_token_ids = false;                          // prompt_token_ids and token_ids in the answer
  int priority = 0;                                       // SCHEDULING_POLICY=priority: lower first
  /// response_format / structured_outputs / guided_*: the constraint asked for (checked further at submission).
  StructuredOutputsRequest structured;
  std::vector<std::string> ignored_fields;  // unknown top-level fields
};

/// One chat message with its content flattened to text (text parts joined by "\n", vLLM's "string" format).
struct ChatMessage {
  std::string role;
  std::optional<std::string> content;  // nullopt for `"content": null`
  boost::json::object extra;           // other keys (name, tool_call_id, ...), handed to the template as-is
};

struct ChatRequest {
  CommonRequest common;
  std::vector<ChatMessage> messages;
  bool add_generation_prompt = true;
  bool continue_final_message = false;  // render without a generation prompt, ending inside the last message
  bool add_special_tokens = false;  // the template already writes BOS
  boost::json::object chat_template_kwargs;
  // Tool calling and reasoning (vLLM's ChatCompletionRequest fields, after its validators).
  std::optional<std::vector<ToolSpec>> tools;  // nullopt: absent or null
  ToolChoice tool_choice;                       // absent + tools -> auto; absent otherwise -> none
  bool parallel_tool_calls = true;              // only an explicit false acts
  bool include_reasoning = true;
  std::optional<std::string> reasoning_effort;  // none, minimal, low, medium, high, xhigh, max
};

/// One prompt of a batch.
struct PromptInput {
  std::string text;
  std::vector<int64_t> tokens;
  bool is_tokens = false;
};

struct CompletionRequest {
  CommonRequest common;
  /// Prompts 2..k of a batch (`prompt` as a list of strings or of token-id lists); the first is below.
  std::vector<PromptInput> extra_prompts;
  std::string prompt_text;             // when !prompt_is_tokens
  std::vector<int64_t> prompt_tokens;  // when prompt_is_tokens; range-checked against the vocabulary later
  bool prompt_is_tokens = false;
  bool add_special_tokens = true;
};

/// POST /tokenize: the completion form (`prompt`) or the chat form (`messages`).
struct TokenizeRequest {
  std::optional<std::string> model;
  bool is_chat = false;
  std::string prompt;                    // completion form
  bool add_special_tokens = true;        // completion form default true, chat form default false
  bool return_token_strs = false;
  std::vector<ChatMessage> messages;     // chat form
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  boost::json::object chat_template_kwargs;
  std::optional<std::vector<ToolSpec>> tools;  // chat form: handed to the template
};

/// POST /detokenize: `{tokens: [int]}` (range-checked against the vocabulary later).
struct DetokenizeRequest {
  std::optional<std::string> model;
  std::vector<int64_t> tokens;
};

/// A request body that must be one JSON object (a 400 otherwise).
ApiResult<boost::json::object> parse_body(std::string_view body);

ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body);
ApiResult<DetokenizeRequest> parse_detokenize_request(std::string_view body);

/// Parses and validates a /v1/chat/completions body. Malformed JSON and bad fields are 400s. The sampling fields
/// the body leaves out keep their values in `defaults` (the generation config's, GENERATION_CONFIG).
ApiResult<ChatRequest> parse_chat_request(std::string_view body, const SamplingParams& defaults = {});
/// Parses and validates a /v1/completions body.
ApiResult<CompletionRequest> parse_completion_request(std::string_view body, const SamplingParams& defaults = {});

}  // namespace podserve::openai
