// Runs one prepared request through the engine and answers the client, as one JSON response or as an SSE
// stream. Shared by /v1/chat/completions and /v1/completions, which differ only in their chunk shapes.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "serve/http/http_types.h"
#include "serve/openai/chat_output.h"
#include "serve/openai/errors.h"
#include "serve/openai/logprobs_json.h"
#include "serve/openai/responses.h"

namespace podserve::openai {

/// The response shapes of one endpoint.
class ResponseFormat {
 public:
  virtual ~ResponseFormat() = default;
  /// Completions put return_token_ids' prompt ids on each choice's first chunk; chat on its opening chunk.
  virtual bool prompt_ids_on_choice() const = 0;
  /// The chunk that opens choice `index` before any text (chat: `delta: {role, content: ""}`, with the prompt's
  /// ids when return_token_ids asks for them), or nullopt.
  virtual std::optional<std::string> first_chunk(const ResponseMeta& meta, int index,
                                                 const std::vector<int32_t>* prompt_token_ids) const = 0;
  virtual std::string chunk(const ResponseMeta& meta, const ChoiceOutput& choice,
                            const std::optional<Usage>& usage) const = 0;
  virtual std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const = 0;
  virtual std::string full(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                           const boost::json::value& prompt_logprobs) const = 0;
  /// The `logprobs` of some tokens of one choice; `text_offset` is that choice's running text offset.
  virtual boost::json::value logprobs(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                                      size_t* text_offset) const = 0;
};

class ChatFormat final : public ResponseFormat {
 public:
  explicit ChatFormat(std::string role) : role_(std::move(role)) {}
  bool prompt_ids_on_choice() const override { return false; }
  std::optional<std::string> first_chunk(const ResponseMeta& meta, int index,
                                         const std::vector<int32_t>* prompt_token_ids) const override;
  std::string chunk(const ResponseMeta& meta, const ChoiceOutput& choice,
                    const std::optional<Usage>& usage) const override;
  std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const override;
  std::string full(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                   const boost::json::value& prompt_logprobs) const override;
  boost::json::value logprobs(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                              size_t* text_offset) const override;

 private:
  std::string role_;
};

class CompletionFormat final : public ResponseFormat {
 public:
  bool prompt_ids_on_choice() const override { return true; }
  std::optional<std::string> first_chunk(const ResponseMeta&, int, const std::vector<int32_t>*) const override {
    return std::nullopt;
  }
  std::string chunk(const ResponseMeta& meta, const ChoiceOutput& choice,
                    const std::optional<Usage>& usage) const override;
  std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const override;
  std::string full(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                   const boost::json::value& prompt_logprobs) const override;
  boost::json::value logprobs(std::span<const TokenLogprobs> tokens, const TokenBytesFn& bytes, int top_n,
                              size_t* text_offset) const override;
};

/// A request ready for the engine plus how to answer it.
struct PreparedGeneration {
  GenerationRequest request;
  ResponseMeta meta;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;
  TokenBytesFn token_bytes;  // for logprobs; needed only when the request asks for them
  std::string echo;          // text put before each choice's text (the `echo` field); with max_tokens 0, all
  /// Prompts 2..k of a completions batch (same params): prompt p's choice j has index p * n + j.
  std::vector<GenerationRequest> extra_requests;
  std::vector<std::string> extra_echo;  // their echo texts
  /// Completions `echo` with `logprobs` (vLLM): each choice's logprobs start with its prompt's tokens, from the
  /// engine's prompt logprobs (the requests ask for them); text offsets run over prompt and completion.
  bool echo_logprobs = false;
  /// An error vLLM raises only when the request reaches its engine (structured-output validation): a plain
  /// error response, or with `stream` an SSE error event and [DONE] after the 200, as vLLM sends it.
  std::optional<ApiError> engine_error;
  /// `echo` with `max_tokens` 0 that still runs the engine (for one token) to get the prompt's logprobs: the
  /// generated token is dropped and each choice is the echo alone, finished by "length".
  bool echo_only = false;
  /// Streaming: the most bytes of engine outputs the server holds for a client that does not read its stream
  /// (they pile up while a write to it is blocked); past it the client is dropped and the request aborted.
  /// 0 = no limit.
  size_t max_backlog_bytes = 0;
  bool return_token_ids = false;       // prompt_token_ids and token_ids in the answer (vLLM's return_token_ids)
  bool tokens_as_ids = false;          // logprobs name their tokens "token_id:N" (return_tokens_as_token_ids)
  bool prompt_tokens_details = false;  // usage.prompt_tokens_details.cached_tokens (--enable-prompt-tokens-details)
  /// Chat with tool / reasoning parsers: one parser per choice turns text into content, reasoning and calls.
  ChatParsing parsing;
};

/// The heap bytes one engine output holds (text, token ids, logprobs): what a stream's backlog is counted in.
size_t held_bytes(const GenerationOutput& out);

/// Submits the request and answers through `writer` (errors included). Outputs arrive on the engine thread and
/// are handed to this coroutine through a queue; if the client disconnects first, or stops reading a stream for
/// longer than its backlog allows (PreparedGeneration::max_backlog_bytes), the request is aborted. With
/// n > 1 the choices' updates arrive interleaved (GenerationOutput::index); the answer is complete when every
/// choice has finished.
http::awaitable<void> run_generation(Engine& engine, PreparedGeneration gen, const ResponseFormat& format,
                                     http::ResponseWriter& writer);

}  // namespace podserve::openai
