// The OpenAI-compatible routes (vLLM's subset): GET /health, GET|POST /ping, GET /version, GET /metrics,
// GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /tokenize, POST /detokenize,
// POST /v1/embeddings (400: not an embedding model), plus API-key checking and the error bodies the HTTP layer
// produces itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "serve/http/http_types.h"
#include "serve/http/router.h"
#include "serve/openai/chat_output.h"
#include "serve/openai/logprobs_json.h"
#include "serve/openai/prompt_renderer.h"
#include "serve/openai/protocol.h"
#include "serve/background_threads.h"
#include "serve/generation_config.h"
#include "serve/lora_config.h"
#include "serve/lora_registry.h"
#include "serve/openai/structured_fields.h"

namespace podserve {
class Tokenizer;
}

namespace podserve::openai {

struct ServiceOptions {
  std::string served_model_name;  // reported in responses and /v1/models
  std::string model_root;  // the ModelCard's `root`: the model path as given
  std::string response_role = "assistant";
  std::vector<std::string> api_keys;  // empty = open
  int max_logprobs = 20;              // --max-logprobs
  std::vector<std::string> model_aliases;  // further --served-model-name values, also accepted as `model`
  // Tool calling and reasoning (names checked at start-up by check_parser_options).
  bool enable_auto_tool_choice = false;     // --enable-auto-tool-choice: loads the tool parser
  std::string tool_call_parser;             // --tool-call-parser
  std::string reasoning_parser;             // --reasoning-parser
  bool exclude_tools_when_tool_choice_none = false;
  StructuredOutputsOptions structured;     // --structured-outputs-config
  size_t max_prompt_bytes = 8u << 20;         // --max-prompt-bytes (completions and /tokenize text)
  int64_t max_tokens_per_request = 1 << 18;   // --max-tokens-per-request
  size_t max_stream_backlog_bytes = 1u << 20;  // --max-stream-backlog-bytes
  bool return_tokens_as_token_ids = false;   // --return-tokens-as-token-ids: a request's field wins
  bool enable_prompt_tokens_details = false; // usage.prompt_tokens_details.cached_tokens
  bool enable_force_include_usage = false;   // every stream ends with a usage chunk
  GenerationDefaults generation_defaults;     // GENERATION_CONFIG / OVERRIDE_GENERATION_CONFIG
  std::vector<ServedLora> loras;  // LoRA adapters: each a model name of its own (/v1/models lists them after the base)
  /// Reads and checks an adapter directory for this model (null: LoRA is off). The load route's loader.
  std::function<Result<std::shared_ptr<const LoraAdapter>>(const std::string& path)> load_lora;
  bool allow_runtime_lora_updating = false;  // VLLM_ALLOW_RUNTIME_LORA_UPDATING: the load/unload routes
  std::string lora_resolver_dir;  // the filesystem LoRA resolver's directory (empty: no resolver)
  int max_loras = 0;  // MAX_LORAS with LoRA on (0: off): the vllm:lora_requests_info gauge's max_lora label
};

/// Start-up checks of the parser options against the registries and the tokenizer's vocabulary (vLLM fails
/// at start-up too): unknown names (listing the known ones), --enable-auto-tool-choice without a parser,
/// markers missing from the vocabulary.
Status check_parser_options(const ServiceOptions& options, const Tokenizer& tokenizer);

class OpenAiService {
 public:
  /// `renderer` may be null (no chat template): chat requests then get vLLM's "no chat template" 400.
  OpenAiService(Engine& engine, ServiceOptions options, std::unique_ptr<PromptRenderer> renderer);

  /// Adds every route to the table.
  void register_routes(http::Router& router);
  /// 401 `{"error":"Unauthorized"}` for /v1 paths without a valid `Authorization: Bearer` key; nullopt when
  /// authentication is off, the path is open (/health) or the key matches (constant-time comparison).
  std::optional<http::HttpResponse> check_auth(const http::HttpRequest& req) const;
  /// What the HTTP server runs before routing: check_auth, then vLLM's `validate_json_request` (a JSON route
  /// POSTed with a Content-Type other than application/json is a 400, before its body is looked at).
  std::optional<http::HttpResponse> filter_request(const http::HttpRequest& req) const;
  /// Error body for responses the HTTP layer makes itself (404, 405, 413, ...).
  static http::HttpResponse http_error(int status, const std::string& message);
  /// Shutdown, once the HTTP threads have stopped and before their io_context goes away: refuses new adapter
  /// loads and joins those still reading or downloading (they report to that io_context).
  void join_background_work();

 private:
  http::awaitable<void> health(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> metrics(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> models(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> chat_completions(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> completions(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> ping(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> version(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> embeddings(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> tokenize(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> detokenize(const http::HttpRequest& req, http::ResponseWriter& writer);
  // POST /v1/load_lora_adapter and /v1/unload_lora_adapter (lora_routes.cpp).
  http::awaitable<void> load_lora_adapter(const http::HttpRequest& req, http::ResponseWriter& writer);
  http::awaitable<void> unload_lora_adapter(const http::HttpRequest& req, http::ResponseWriter& writer);

  /// Messages → prompt text with the chat template (continue_final_message included); errors are 400s.
  ApiResult<std::string> render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                     bool continue_final_message, const boost::json::object& kwargs,
                                     const std::optional<std::vector<ToolSpec>>& tools = std::nullopt) const;
  /// The structured-output constraint of tool_choice required / named (vLLM's Path A) and, with a reasoning
  /// parser, the reasoning-end detector that delays masking; a 400 for tools whose schema cannot be constrained.
  /// The detector that makes masking wait for the end of reasoning (vLLM's structured-output manager does so for
  /// chat and completions alike): null without --reasoning-parser or with enable_in_reasoning.
  std::shared_ptr<const ReasoningEndDetector> reasoning_gate(const boost::json::object& chat_template_kwargs) const;
  std::optional<ApiError> constrain_tool_calls(const ChatRequest& chat, const ChatParsing& parsing,
                                               SamplingParams* params) const;
  /// Tool-choice checks that need the server's parsers, the template kwargs, the tools the template sees, and
  /// the per-choice parsers: vLLM's online renderer and OpenAIServingChat set-up for one chat request.
  std::optional<ApiError> prepare_chat_parsing(ChatRequest& chat, ChatParsing* parsing,
                                               std::optional<std::vector<ToolSpec>>* template_tools) const;

  /// 404 "The model `X` does not exist." unless `model` is absent, one of the served names or an adapter's name.
  std::optional<ApiError> check_model(const std::optional<std::string>& model) const;
  /// check_model, after vLLM's LoRA resolvers had their turn with an unknown name (lora_resolver.cpp): with
  /// VLLM_ALLOW_RUNTIME_LORA_UPDATING and a resolver directory, the adapter found there is loaded and served.
  http::awaitable<std::optional<ApiError>> resolve_model(const std::optional<std::string>& model,
                                                         http::ResponseWriter& writer);
  /// Reads an adapter with options_.load_lora on a thread of its own; the coroutine waits (lora_routes.cpp).
  http::awaitable<Result<std::shared_ptr<const LoraAdapter>>> load_adapter_off_thread(const std::string& path,
                                                                                       http::ResponseWriter& writer);
  /// The adapter `model` names, or nullopt (the base model or an unknown name).
  std::optional<ServedLora> lora_of(const std::optional<std::string>& model) const;
  /// Binds `request` to the adapter `model` names (its lora_ref) and says the model name the response reports. The
  /// adapter is looked up again here: an unload since check_model makes the name a 404, never the base model.
  std::optional<ApiError> bind_model(const std::optional<std::string>& model, GenerationRequest* request,
                                     std::string* response_model) const;
  /// Fills prompt tokens and max_tokens, enforcing the context length with vLLM's messages, and checks the
  /// limits that need the model (logprobs counts, logit_bias ids).
  std::optional<ApiError> finish_request(const CommonRequest& common, bool chat, std::vector<int32_t> prompt,
                                         int default_max_tokens, GenerationRequest* out) const;
  /// Every served name, the reported one first (/v1/models lists them all, as vLLM).
  std::vector<std::string> served_names() const;
  /// The engine's tokenizer's token_bytes, for logprobs.
  TokenBytesFn token_bytes() const;

  Engine& engine_;
  ServiceOptions options_;
  SamplingParams sampling_defaults_;  // SamplingParams' defaults with the generation config's applied
  std::unique_ptr<PromptRenderer> renderer_;
  int64_t created_;
  LoraRegistry loras_;  // the adapters served by name; their weights are in the engine's table
  BackgroundThreads background_;  // adapter loads (lora_routes.cpp); last member: joined before the rest goes
};

}  // namespace podserve::openai
