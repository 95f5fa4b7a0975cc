#include "serve/openai/service.h"

#include <algorithm>
#include <cctype>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "base/log.h"
#include "serve/metrics.h"
#include "serve/openai/errors.h"
#include "serve/openai/generate.h"
#include "serve/openai/protocol.h"
#include "serve/openai/responses.h"
#include "serve/openai/sampling_fields.h"
#include "serve/openai/token_fields.h"
#include "serve/openai/tool_constraint.h"
#include "serve/openai/tool_structural_tag.h"
#include "serve/openai/tools/tool_parsers.h"
#include "structured/constraint.h"
#include "tokenizer/tokenizer.h"

#ifndef PODSERVE_VERSION
#define PODSERVE_VERSION "unknown"
#endif

namespace podserve::openai {
namespace {

/// vLLM: the `X-Request-Id` header wins over the body's `request_id`.
void apply_request_id_header(const http::HttpRequest& req, std::optional<std::string>* request_id) {
  std::string_view h = req.header("x-request-id");
  if (!h.empty()) *request_id = std::string(h);
}

http::HttpResponse json_response(const boost::json::value& v) {
  return http::HttpResponse{200, "application/json", boost::json::serialize(v)};
}

/// Compares without an early exit, so the time taken does not reveal how much of a key matched. The loop runs
/// over the longer input, whose length the caller controls, so timing reveals nothing about the secret either.
bool constant_time_equal(std::string_view a, std::string_view b) {
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

/// vLLM guards these prefixes when an API key is set; /health, /metrics, /version stay open.
bool is_guarded_path(std::string_view path) {
  for (std::string_view prefix : {"/v1", "/v2", "/inference", "/cohere"}) {
    if (path.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

/// The routes whose body is JSON; vLLM guards them with `validate_json_request`.
bool is_json_route(std::string_view method, std::string_view path) {
  if (method != "POST") return false;
  for (std::string_view p : {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/v1/embeddings"}) {
    if (path == p) return true;
  }
  return false;
}

/// vLLM compares the lower-cased media type (what precedes the first ';', not trimmed) with application/json;
/// a missing Content-Type fails too.
bool is_json_content_type(std::string_view content_type) {
  std::string media(content_type.substr(0, content_type.find(';')));
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

void log_ignored_fields(const std::vector<std::string>& fields) {
  if (fields.empty()) return;
  std::string list;
  for (const std::string& f : fields) list += (list.empty() ? "'" : ", '") + f + "'";
  PODSERVE_LOG(kWarning) << "The following fields were present in the request but ignored: {" << list << "}";
}

/// --max-prompt-bytes for prompt text that no template rendered (completions, /tokenize): tokenizing runs on
/// the HTTP thread, so its size is capped before it starts.
std::optional<ApiError> check_prompt_bytes(size_t bytes, size_t limit) {
  if (bytes <= limit) return std::nullopt;
  return bad_request("The prompt is " + std::to_string(bytes) + " bytes long; this server accepts at most " +
                         std::to_string(limit) + " bytes of prompt text (--max-prompt-bytes).",
                     "prompt");
}

/// --max-tokens-per-request: every candidate of every prompt may generate up to max_tokens.
std::optional<ApiError> check_generation_work(const std::vector<const GenerationRequest*>& requests, int64_t limit) {
  int64_t total = 0;
  for (const GenerationRequest* r : requests) {
    total += static_cast<int64_t>(std::max(r->params.n, r->params.best_of)) * r->params.max_tokens;
  }
  if (total <= limit) return std::nullopt;
  const SamplingParams& p = requests[0]->params;
  std::string shape = std::to_string(std::max(p.n, p.best_of)) + (p.best_of > p.n ? " (best_of)" : " (n)") +
                      " x max_tokens " + std::to_string(p.max_tokens);
  if (requests.size() > 1) shape = std::to_string(requests.size()) + " prompts x " + shape;
  return bad_request("This request may generate up to " + std::to_string(total) + " tokens (" + shape +
                         "), more than the " + std::to_string(limit) +
                         " this server allows per request (--max-tokens-per-request). Lower n, best_of or "
                         "max_tokens.",
                     "max_tokens");
}

/// The answer-shaping fields and flags every generation shares.
void set_answer_options(const CommonRequest& c, const ServiceOptions& o, PreparedGeneration* gen) {
  gen->stream = c.stream;
  gen->include_usage = c.include_usage || (c.stream && o.enable_force_include_usage);
  gen->continuous_usage = c.continuous_usage;
  gen->return_token_ids = c.return_token_ids;
  gen->tokens_as_ids = c.return_tokens_as_token_ids.value_or(o.return_tokens_as_token_ids);
  gen->prompt_tokens_details = o.enable_prompt_tokens_details;
}

ResponseMeta make_meta(std::string_view prefix, const std::optional<std::string>& client_id,
                       const std::string& engine_id, const std::string& model) {
  ResponseMeta meta;
  meta.id = client_id ? std::string(prefix) + *client_id : engine_id;
  meta.created = unix_now();
  meta.model = model;
  return meta;
}

/// The tokenizer as the parsers see it.
class TokenizerVocab final : public ParserVocab {
 public:
  explicit TokenizerVocab(const Tokenizer& tok) : tok_(tok) {}
  std::optional<int32_t> token_id(std::string_view text) const override {
    const int32_t id = tok_.find_token(text);
    if (id < 0) return std::nullopt;
    return id;
  }
  std::string token_bytes(int32_t id) const override {
    return tok_.is_special(id) ? tok_.token_text(id) : tok_.token_bytes(id);
  }
  bool is_special(int32_t id) const override { return tok_.is_special(id); }
  std::string decode(std::span<const int32_t> ids) const override { return tok_.decode(ids, false); }

 private:
  const Tokenizer& tok_;
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Status check_parser_options(const ServiceOptions& o, const Tokenizer& tokenizer) {
  if (o.enable_auto_tool_choice && o.tool_call_parser.empty()) {
    return invalid_argument("--enable-auto-tool-choice (ENABLE_AUTO_TOOL_CHOICE) requires --tool-call-parser "
                            "(TOOL_CALL_PARSER); known parsers: " + joined(tool_parser_names()));
  }
  if (!o.tool_call_parser.empty() && find_tool_parser(o.tool_call_parser) == nullptr) {
    return invalid_argument("Error: --enable-auto-tool-choice requires tool_parser:'" + o.tool_call_parser +
                            "' which has not been registered; known parsers: " + joined(tool_parser_names()));
  }
  if (!o.reasoning_parser.empty() && find_reasoning_parser(o.reasoning_parser) == nullptr) {
    return invalid_argument("reasoning_parser_name='" + o.reasoning_parser +
                            "' has not been registered; known parsers: " + joined(reasoning_parser_names()));
  }
  // gpt-oss's harmony output is parsed as a whole (vLLM's HarmonyParser): its two parsers go together.
  const bool harmony_tools = o.enable_auto_tool_choice && o.tool_call_parser == "openai";
  const bool harmony_reasoning = o.reasoning_parser == "openai_gptoss";
  if ((harmony_tools && !o.reasoning_parser.empty() && !harmony_reasoning) ||
      (harmony_reasoning && o.enable_auto_tool_choice && !harmony_tools)) {
    return invalid_argument("gpt-oss's harmony format is parsed by --tool-call-parser openai with --reasoning-parser "
                            "openai_gptoss (either alone is fine); it cannot be combined with --tool-call-parser " +
                            o.tool_call_parser + " / --reasoning-parser " + o.reasoning_parser);
  }
  TokenizerVocab vocab(tokenizer);
  if (!o.reasoning_parser.empty()) {
    ReasoningParserContext ctx{&vocab, nullptr};
    boost::json::object thinking{{"thinking", true}};
    ctx.chat_template_kwargs = &thinking;  // the variant that needs the markers
    Result<std::unique_ptr<ReasoningParser>> made = find_reasoning_parser(o.reasoning_parser)(ctx);
    if (!made.ok()) {
      return invalid_argument("--reasoning-parser " + o.reasoning_parser +
                              " cannot be used with this model's tokenizer: " + made.status().message());
    }
  }
  if (o.enable_auto_tool_choice) {
    for (std::string_view marker : tool_parser_required_tokens(o.tool_call_parser)) {
      if (!vocab.token_id(marker)) {
        return invalid_argument("--tool-call-parser " + o.tool_call_parser +
                                " cannot be used with this model's tokenizer: the token " + std::string(marker) +
                                " is not in its vocabulary");
      }
    }
  }
  return ok_status();
}

OpenAiService::OpenAiService(Engine& engine, ServiceOptions options, std::unique_ptr<PromptRenderer> renderer)
    : engine_(engine), options_(std::move(options)), renderer_(std::move(renderer)), created_(unix_now()) {
  options_.generation_defaults.apply_to(&sampling_defaults_);
  // The start-up adapters go to the engine's table as loaded ones do (vLLM's init_static_loras); from here on
  // the engine holds their weights.
  for (ServedLora& lora : options_.loras) {
    lora.id = loras_.id_for(lora.name);
    engine_.add_lora(LoraRef{lora.id, lora.name, lora.dir}, std::move(lora.adapter));
    lora.adapter = nullptr;
    loras_.put(lora, false);
  }
  options_.loras.clear();
}

void OpenAiService::register_routes(http::Router& router) {
  router.add("GET", "/health", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return health(r, w); });
  router.add("GET", "/metrics",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return metrics(r, w); });
  router.add("GET", "/v1/models", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return models(r, w); });
  router.add("POST", "/v1/chat/completions",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return chat_completions(r, w); });
  router.add("POST", "/v1/completions",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return completions(r, w); });
  router.add("GET", "/ping", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return ping(r, w); });
  router.add("POST", "/ping", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return ping(r, w); });
  router.add("GET", "/version",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return version(r, w); });
  router.add("POST", "/v1/embeddings",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return embeddings(r, w); });
  router.add("POST", "/tokenize",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return tokenize(r, w); });
  router.add("POST", "/detokenize",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return detokenize(r, w); });
  if (options_.allow_runtime_lora_updating) {  // vLLM adds these routes only then (otherwise they 404)
    PODSERVE_LOG(kWarning) << "LoRA dynamic loading & unloading is enabled in the API server. This should ONLY be "
                              "used for local development!";
    router.add("POST", "/v1/load_lora_adapter",
               [this](const http::HttpRequest& r, http::ResponseWriter& w) { return load_lora_adapter(r, w); });
    router.add("POST", "/v1/unload_lora_adapter",
               [this](const http::HttpRequest& r, http::ResponseWriter& w) { return unload_lora_adapter(r, w); });
  }
}

std::optional<http::HttpResponse> OpenAiService::check_auth(const http::HttpRequest& req) const {
  if (options_.api_keys.empty() || !is_guarded_path(req.path)) return std::nullopt;
  std::string_view given = req.header("authorization");
  bool match = false;
  for (const std::string& key : options_.api_keys) {
    match |= constant_time_equal(given, "Bearer " + key);  // no short-circuit: every key is compared
  }
  if (match) return std::nullopt;
  return unauthorized_response();
}

std::optional<http::HttpResponse> OpenAiService::filter_request(const http::HttpRequest& req) const {
  if (auto denied = check_auth(req)) return denied;
  const bool lora_route = req.path == "/v1/load_lora_adapter" || req.path == "/v1/unload_lora_adapter";
  const bool json_route = lora_route ? options_.allow_runtime_lora_updating && req.method == "POST"
                                     : is_json_route(req.method, req.path);
  if (json_route && !is_json_content_type(req.header("content-type"))) {
    return error_response(bad_request("Unsupported Media Type: Only 'application/json' is allowed"));
  }
  return std::nullopt;
}

http::HttpResponse OpenAiService::http_error(int status, const std::string& message) {
  return error_response(status, message);
}

http::awaitable<void> OpenAiService::health(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, "", ""};  // vLLM: 200 with an empty body
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::metrics(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, std::string(kPrometheusContentType),
                         render_prometheus(engine_.stats(), options_.served_model_name, options_.max_loras)};
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::models(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, "application/json",
                         model_list_json(served_names(), options_.model_root, created_, engine_.max_model_len(),
                                         loras_.list())};
  co_await writer.send(std::move(res));
}

std::optional<ApiError> OpenAiService::check_model(const std::optional<std::string>& model) const {
  if (!model || *model == options_.served_model_name) return std::nullopt;
  for (const std::string& alias : options_.model_aliases) {
    if (*model == alias) return std::nullopt;
  }
  if (lora_of(model)) return std::nullopt;
  return api_error(StatusCode::kNotFound, "The model `" + *model + "` does not exist.", "model");
}

std::optional<ServedLora> OpenAiService::lora_of(const std::optional<std::string>& model) const {
  if (!model) return std::nullopt;
  return loras_.find(*model);
}

std::optional<ApiError> OpenAiService::bind_model(const std::optional<std::string>& model, GenerationRequest* request,
                                                  std::string* response_model) const {
  const std::optional<ServedLora> lora = lora_of(model);
  if (!lora) {
    *response_model = options_.served_model_name;
    return check_model(model);
  }
  request->lora_ref = LoraRef{lora->id, lora->name, lora->dir};
  *response_model = lora->name;
  return std::nullopt;
}

std::vector<std::string> OpenAiService::served_names() const {
  std::vector<std::string> names{options_.served_model_name};
  names.insert(names.end(), options_.model_aliases.begin(), options_.model_aliases.end());
  return names;
}

TokenBytesFn OpenAiService::token_bytes() const {
  const Tokenizer* tok = &engine_.tokenizer();
  return [tok](int32_t id) { return tok->token_bytes(id); };
}

std::optional<ApiError> OpenAiService::finish_request(const CommonRequest& common, bool chat,
                                                      std::vector<int32_t> prompt, int default_max_tokens,
                                                      GenerationRequest* out) const {
  if (auto e = check_model_limits(common.sampling, chat, engine_.tokenizer().vocab_size(), options_.max_logprobs)) {
    return e;
  }
  const int64_t limit = engine_.max_model_len();
  if (common.truncate_prompt_tokens) {
    const int64_t keep = *common.truncate_prompt_tokens == -1 ? limit : *common.truncate_prompt_tokens;
    if (keep > limit) {
      return bad_request(
          "truncate_prompt_tokens value is greater than max_model_len. Please, select a smaller truncation size.",
          "truncate_prompt_tokens");
    }
    if (static_cast<int64_t>(prompt.size()) > keep) {
      prompt.erase(prompt.begin(), prompt.end() - keep);  // keep the last `keep` tokens, as vLLM
    }
  }
  const auto prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt_len == 0) return bad_request("The decoder prompt cannot be empty", "prompt");
  if (prompt_len >= limit) {
    return api_error(StatusCode::kOutOfRange,
                     "This model's maximum context length is " + std::to_string(limit) +
                         " tokens. However, your request has " + std::to_string(prompt_len) +
                         " input tokens. Please reduce the length of the input messages.",
                     "input_tokens");
  }
  int64_t max_tokens = 0;
  if (common.max_tokens) {
    max_tokens = *common.max_tokens;
    if (prompt_len + max_tokens > limit) {
      const std::string m = std::to_string(max_tokens);
      return api_error(StatusCode::kOutOfRange,
                       "'max_tokens' or 'max_completion_tokens' is too large: " + m +
                           ". This model's maximum context length is " + std::to_string(limit) +
                           " tokens and your request has " + std::to_string(prompt_len) + " input tokens (" + m +
                           " > " + std::to_string(limit) + " - " + std::to_string(prompt_len) + ").",
                       "max_tokens");
    }
  } else {
    // Chat (default < 0): the generation config's max_new_tokens, else the rest of the context, as vLLM.
    // Completions: OpenAI's 16. Either clamped to what fits.
    const GenerationDefaults& g = options_.generation_defaults;
    const int64_t fallback = default_max_tokens >= 0 ? default_max_tokens : g.max_tokens.value_or(limit - prompt_len);
    max_tokens = std::min<int64_t>(fallback, limit - prompt_len);
  }
  // vLLM's override_max_tokens: a folder's or the override's max_new_tokens caps every request.
  if (options_.generation_defaults.max_tokens_cap) {
    max_tokens = std::min(max_tokens, *options_.generation_defaults.max_tokens_cap);
  }
  out->request_id = make_request_id("");
  out->params = common.sampling;
  if (auto e = apply_token_fields(common, engine_.tokenizer(), engine_.tokenizer().vocab_size(), &out->params)) {
    return e;
  }
  // vLLM's update_from_generation_config: the generation config's other EOS ids stop a request too.
  if (!out->params.ignore_eos) {
    std::vector<int32_t>& stop = out->params.stop_token_ids;
    for (int32_t id : options_.generation_defaults.eos_token_ids) {
      if (std::find(stop.begin(), stop.end(), id) == stop.end()) stop.push_back(id);
    }
  }
  out->params.max_tokens = static_cast<int>(max_tokens);
  out->params.min_tokens = std::min(out->params.min_tokens, out->params.max_tokens);
  out->prompt_tokens = std::move(prompt);
  return std::nullopt;
}

http::awaitable<void> OpenAiService::chat_completions(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<ChatRequest> parsed = parse_chat_request(req.body, sampling_defaults_);
  if (!parsed.ok()) {
    co_await writer.send(error_response(parsed.error()));
    co_return;
  }
  ChatRequest& chat = parsed.value();
  log_ignored_fields(chat.common.ignored_fields);
  apply_request_id_header(req, &chat.common.request_id);
  apply_priority_header(req.header("x-vllm-priority"), &chat.common);
  std::optional<ApiError> error = co_await resolve_model(chat.common.model, writer);
  std::string prompt;
  ChatParsing parsing;
  std::optional<std::vector<ToolSpec>> template_tools;
  if (!error) {
    // Rendering and tokenizing run here, on the connection's HTTP thread, never on the engine thread.
    error = prepare_chat_parsing(chat, &parsing, &template_tools);
  }
  if (!error) {
    ApiResult<std::string> rendered = render_chat(chat.messages, chat.add_generation_prompt,
                                                  chat.continue_final_message, chat.chat_template_kwargs,
                                                  template_tools);
    if (rendered.ok()) {
      prompt = std::move(rendered.value());
    } else {
      error = rendered.error();
    }
  }
  PreparedGeneration gen;
  if (!error) {
    std::vector<int32_t> tokens = engine_.tokenizer().encode(prompt, chat.add_special_tokens, true);
    error = finish_request(chat.common, /*chat=*/true, std::move(tokens), -1, &gen.request);
  }
  if (!error) error = check_generation_work({&gen.request}, options_.max_tokens_per_request);
  if (!error) error = check_structural_tag(chat.common.structured);
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  ApiResult<StructuredConstraint> constraint = build_constraint(chat.common.structured, options_.structured);
  if (constraint.ok()) {
    gen.request.params.structured = std::move(constraint.value());
  } else {
    gen.engine_error = constraint.error();
  }
  gen.request.request_id = "chatcmpl-" + gen.request.request_id;
  if (parsing.make_parser && options_.enable_auto_tool_choice && chat.tools &&
      chat.tool_choice.kind != ToolChoice::kNone) {
    if (parsing.make_parser()->keeps_special_tokens_with_tools()) {
      gen.request.params.skip_special_tokens = false;  // hermes: the tags are special tokens in some models
    }
  }
  // Engine-based parsers whenever vLLM adjusts the request (a reasoning parser, or tool_choice other than
  // "none"): Granite 3.0's <|tool_call|> is a special token.
  if (parsing.make_parser && (parsing.reasoning_tokens || chat.tool_choice.kind != ToolChoice::kNone) &&
      parsing.make_parser()->has_engine_parser()) {
    gen.request.params.skip_special_tokens = false;
  }
  if (std::optional<ApiError> e = constrain_tool_calls(chat, parsing, &gen.request.params)) {
    co_await writer.send(error_response(*e));
    co_return;
  }
  gen.parsing = std::move(parsing);
  std::string response_model;
  if (std::optional<ApiError> e = bind_model(chat.common.model, &gen.request, &response_model)) {
    co_await writer.send(error_response(*e));
    co_return;
  }
  gen.meta = make_meta("chatcmpl-", chat.common.request_id, gen.request.request_id, response_model);
  set_answer_options(chat.common, options_, &gen);
  gen.token_bytes = token_bytes();
  gen.max_backlog_bytes = options_.max_stream_backlog_bytes;
  if (chat.common.echo && chat.messages.back().role == options_.response_role) {
    gen.echo = chat.messages.back().content.value_or("");  // vLLM: only a last message in the response role
  }
  ChatFormat format(options_.response_role);
  co_await run_generation(engine_, std::move(gen), format, writer);
}

http::awaitable<void> OpenAiService::completions(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<CompletionRequest> parsed = parse_completion_request(req.body, sampling_defaults_);
  if (!parsed.ok()) {
    co_await writer.send(error_response(parsed.error()));
    co_return;
  }
  CompletionRequest& cr = parsed.value();
  log_ignored_fields(cr.common.ignored_fields);
  apply_request_id_header(req, &cr.common.request_id);
  apply_priority_header(req.header("x-vllm-priority"), &cr.common);
  std::optional<ApiError> error = co_await resolve_model(cr.common.model, writer);
  // The batch: the first prompt, then the rest.
  std::vector<PromptInput> prompts;
  prompts.push_back(PromptInput{cr.prompt_text, cr.prompt_tokens, cr.prompt_is_tokens});
  for (PromptInput& p : cr.extra_prompts) prompts.push_back(std::move(p));
  PreparedGeneration gen;
  std::vector<GenerationRequest> requests(prompts.size());
  const int64_t vocab = engine_.tokenizer().vocab_size();
  for (size_t p = 0; !error && p < prompts.size(); ++p) {
    std::vector<int32_t> tokens;
    if (prompts[p].is_tokens) {
      for (int64_t id : prompts[p].tokens) {
        if (id < 0 || id >= vocab) {
          error = bad_request("Token id " + std::to_string(id) + " is out of vocabulary", "prompt");
          break;
        }
        tokens.push_back(static_cast<int32_t>(id));
      }
    } else {
      error = check_prompt_bytes(prompts[p].text.size(), options_.max_prompt_bytes);
      if (!error) tokens = engine_.tokenizer().encode(prompts[p].text, cr.add_special_tokens, true);
    }
    if (!error) error = finish_request(cr.common, /*chat=*/false, std::move(tokens), 16, &requests[p]);
    if (!error) requests[p].request_id = "cmpl-" + requests[p].request_id;
  }
  if (!error) {
    std::vector<const GenerationRequest*> all;
    for (const GenerationRequest& r : requests) all.push_back(&r);
    error = check_generation_work(all, options_.max_tokens_per_request);
  }
  if (!error) error = check_structural_tag(cr.common.structured);
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  for (size_t p = 0; cr.common.echo && p < prompts.size(); ++p) {
    // The prompt as sent; token prompts (and truncated ones) as the tokens decode.
    std::string echo = !prompts[p].is_tokens && !cr.common.truncate_prompt_tokens
                           ? prompts[p].text
                           : engine_.tokenizer().decode(requests[p].prompt_tokens, /*skip_special_tokens=*/false);
    if (p == 0) {
      gen.echo = std::move(echo);
    } else {
      gen.extra_echo.push_back(std::move(echo));
    }
  }
  if (cr.common.echo && cr.common.sampling.logprobs) {
    // vLLM: echo's logprobs are the prompt's (prompt_logprobs = logprobs unless asked for separately), and
    // max_tokens 0 still runs the engine for one token, which the answer leaves out.
    gen.echo_logprobs = true;
    gen.echo_only = requests[0].params.max_tokens == 0;
    for (GenerationRequest& r : requests) {
      if (!r.params.prompt_logprobs) r.params.prompt_logprobs = r.params.logprobs;
      r.params.max_tokens = std::max(r.params.max_tokens, 1);
      r.params.min_tokens = std::min(r.params.min_tokens, r.params.max_tokens);
    }
  }
  ApiResult<StructuredConstraint> constraint = build_constraint(cr.common.structured, options_.structured);
  if (constraint.ok()) {
    // With a reasoning parser, masking waits for the end of reasoning here too (vLLM: the default parser kwargs).
    std::shared_ptr<const ReasoningEndDetector> gate =
        constraint.value().active() ? reasoning_gate(boost::json::object{}) : nullptr;
    for (GenerationRequest& r : requests) {
      r.params.structured = constraint.value();
      r.params.reasoning_end = gate;
    }
  } else {
    gen.engine_error = constraint.error();
  }
  gen.request = std::move(requests[0]);
  for (size_t p = 1; p < requests.size(); ++p) gen.extra_requests.push_back(std::move(requests[p]));
  std::string response_model;
  if (std::optional<ApiError> e = bind_model(cr.common.model, &gen.request, &response_model)) {
    co_await writer.send(error_response(*e));
    co_return;
  }
  for (GenerationRequest& r : gen.extra_requests) r.lora_ref = gen.request.lora_ref;
  gen.meta = make_meta("cmpl-", cr.common.request_id, gen.request.request_id, response_model);
  set_answer_options(cr.common, options_, &gen);
  gen.token_bytes = token_bytes();
  gen.max_backlog_bytes = options_.max_stream_backlog_bytes;
  CompletionFormat format;
  co_await run_generation(engine_, std::move(gen), format, writer);
}

std::optional<ApiError> OpenAiService::prepare_chat_parsing(ChatRequest& chat, ChatParsing* parsing,
                                                           std::optional<std::vector<ToolSpec>>* template_tools) const {
  const bool tool_parser = options_.enable_auto_tool_choice && !options_.tool_call_parser.empty();
  const ToolChoice& choice = chat.tool_choice;
  if (!tool_parser && choice.kind != ToolChoice::kNone && choice.kind != ToolChoice::kNull) {
    if (choice.kind == ToolChoice::kAuto && !options_.enable_auto_tool_choice) {
      return bad_request("\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set");
    }
    if (choice.kind != ToolChoice::kAuto) {
      const std::string desc =
          choice.kind == ToolChoice::kNamed ? "function \"" + choice.name + "\"" : std::string("\"required\"");
      return bad_request("tool_choice=" + desc + " requires --tool-call-parser to be set");
    }
  }
  if (chat.tools && !(choice.kind == ToolChoice::kNone && options_.exclude_tools_when_tool_choice_none)) {
    *template_tools = chat.tools;
  }
  // reasoning_effort reaches the template, and turns thinking on or off unless the request says.
  if (chat.reasoning_effort) {
    chat.chat_template_kwargs["reasoning_effort"] = *chat.reasoning_effort;
    if (!chat.chat_template_kwargs.contains("enable_thinking")) {
      chat.chat_template_kwargs["enable_thinking"] = *chat.reasoning_effort != "none";
    }
  }
  const ToolParserFactory tool_factory = tool_parser ? find_tool_parser(options_.tool_call_parser) : nullptr;
  const ReasoningParserFactory reasoning_factory =
      options_.reasoning_parser.empty() ? nullptr : find_reasoning_parser(options_.reasoning_parser);
  parsing->settings = ChatToolSettings{tool_factory != nullptr, chat.tools.has_value(), choice,
                                       chat.parallel_tool_calls};
  parsing->reasoning_tokens = reasoning_factory != nullptr;
  if (tool_factory == nullptr && reasoning_factory == nullptr) return std::nullopt;
  // One parser per choice, made on the HTTP thread; the vocabulary adapter and tools outlive the request.
  auto vocab = std::make_shared<TokenizerVocab>(engine_.tokenizer());
  auto tools = std::make_shared<std::vector<ToolSpec>>(chat.tools.value_or(std::vector<ToolSpec>{}));
  auto kwargs = std::make_shared<boost::json::object>(chat.chat_template_kwargs);
  OutputParserOptions opts{choice, chat.include_reasoning};
  parsing->make_parser = [vocab, tools, kwargs, opts, tool_factory, reasoning_factory]() {
    std::unique_ptr<ReasoningParser> reasoning;
    if (reasoning_factory != nullptr) {
      Result<std::unique_ptr<ReasoningParser>> r = reasoning_factory(ReasoningParserContext{vocab.get(), kwargs.get()});
      if (r.ok()) reasoning = std::move(r).value();  // checked at start-up; a failure leaves reasoning unparsed
    }
    std::unique_ptr<ToolParser> tool;
    if (tool_factory != nullptr) tool = tool_factory(ToolParserContext{vocab.get(), tools.get()});
    return std::make_unique<OutputParser>(std::move(reasoning), std::move(tool), opts);
  };
  return std::nullopt;
}

std::optional<ApiError> OpenAiService::constrain_tool_calls(const ChatRequest& chat, const ChatParsing& parsing,
                                                           SamplingParams* params) const {
  // vLLM's adjust_request (Path A): tool_choice required / named on a parser without a model-native format
  // replaces any structured-output constraint with the tools' JSON schema.
  // mistral (vLLM's legacy branch for Hugging Face tokenizers) forces its own call array instead, unless the
  // request asks for a constraint of its own.
  const bool mistral = options_.tool_call_parser == "mistral" && options_.enable_auto_tool_choice;
  if (parsing.make_parser && parsing.settings.has_tool_parser &&
      (parsing.make_parser()->supports_required_and_named() || (mistral && !chat.common.structured.present))) {
    ApiResult<std::optional<std::string>> schema =
        mistral ? ApiResult<std::optional<std::string>>(mistral_tool_choice_json_schema(chat.tools, chat.tool_choice))
                : tool_choice_json_schema(chat.tools, chat.tool_choice, chat.parallel_tool_calls);
    if (!schema.ok()) return schema.error();
    if (schema.value()) {
      params->structured = StructuredConstraint{};
      params->structured.kind = StructuredConstraint::Kind::kJsonSchema;
      params->structured.spec = std::move(*schema.value());
      // A schema the grammar cannot take is the request's fault: a 400 now, not an engine error later.
      if (Result<structured::Grammar> g = structured::grammar_for(params->structured); !g.ok()) {
        return bad_request(g.status().message());
      }
    }
  } else if (parsing.make_parser && parsing.settings.has_tool_parser) {
    // Path B: a parser with a model-native call format gets a structural tag of that format (required / named
    // drop the request's own constraint, as vLLM does with a warning); the parser then reads the calls as usual.
    // auto with a constraint of the request's own keeps that constraint and leaves the calls free (vLLM would
    // allow tool calls OR that format with strict tools; not built yet).
    const bool own_constraint = chat.tool_choice.kind == ToolChoice::kAuto && chat.common.structured.present;
    std::optional<std::string> tag =
        own_constraint ? std::nullopt
                       : tool_choice_structural_tag(structural_tag_model(options_.tool_call_parser), chat.tools,
                                                    chat.tool_choice, chat.parallel_tool_calls);
    if (tag) {
      params->structured = StructuredConstraint{};
      params->structured.kind = StructuredConstraint::Kind::kStructuralTag;
      params->structured.spec = std::move(*tag);
      if (Result<structured::Grammar> g = structured::grammar_for(params->structured); !g.ok()) {
        return bad_request(g.status().message());
      }
    }
  }
  // Masking waits for the end of reasoning (vLLM: unless include_reasoning is false, which constrains from the
  // first token, and --structured-outputs-config enable_in_reasoning); the detector is a parser of its own, read
  // on the engine thread.
  if (chat.include_reasoning) params->reasoning_end = reasoning_gate(chat.chat_template_kwargs);
  return std::nullopt;
}

std::shared_ptr<const ReasoningEndDetector> OpenAiService::reasoning_gate(
    const boost::json::object& chat_template_kwargs) const {
  if (options_.reasoning_parser.empty() || options_.structured.enable_in_reasoning) return nullptr;
  ReasoningParserFactory factory = find_reasoning_parser(options_.reasoning_parser);
  TokenizerVocab vocab(engine_.tokenizer());
  Result<std::unique_ptr<ReasoningParser>> parser = factory(ReasoningParserContext{&vocab, &chat_template_kwargs});
  return parser.ok() ? reasoning_end_detector(std::move(parser).value()) : nullptr;
}

ApiResult<std::string> OpenAiService::render_chat(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt, bool continue_final_message,
                                                 const boost::json::object& kwargs,
                                                 const std::optional<std::vector<ToolSpec>>& tools) const {
  if (renderer_ == nullptr) {
    return bad_request(
        "As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat "
        "template if the tokenizer does not define one.");
  }
  std::optional<boost::json::array> tool_dicts;
  if (tools) {
    tool_dicts.emplace();
    for (const ToolSpec& t : *tools) tool_dicts->emplace_back(t.raw);
  }
  Result<std::string> prompt =
      renderer_->render(messages, add_generation_prompt, kwargs, tool_dicts ? &*tool_dicts : nullptr);
  if (prompt.ok() && continue_final_message) {
    prompt = cut_after_final_message(*prompt, messages.back().content.value_or(""));
  }
  if (!prompt.ok()) {
    // Template failures (raise_exception, undefined values, render budget) are the request's problem: 400.
    const Status& st = prompt.status();
    return st.code() == StatusCode::kInternal ? ApiError{st, {}} : bad_request(st.message());
  }
  return std::move(*prompt);
}

http::awaitable<void> OpenAiService::ping(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, "", ""};  // vLLM (SageMaker health): 200 with an empty body, as /health
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::version(const http::HttpRequest&, http::ResponseWriter& writer) {
  boost::json::object o;
  o["version"] = PODSERVE_VERSION;
  http::HttpResponse res = json_response(o);
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::embeddings(const http::HttpRequest&, http::ResponseWriter& writer) {
  // vLLM's answer for a generate-only model: the route exists, the model cannot serve it.
  http::HttpResponse res = error_response(bad_request(
      "The model does not support Embeddings API: `" + options_.served_model_name +
      "` is a text-generation model, not an embedding model."));
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::tokenize(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<TokenizeRequest> parsed = parse_tokenize_request(req.body);
  std::optional<ApiError> error;
  std::string text;
  if (!parsed.ok()) {
    error = parsed.error();
  } else {
    error = check_model(parsed.value().model);
  }
  if (!error && parsed.value().is_chat) {
    const TokenizeRequest& t = parsed.value();
    ApiResult<std::string> rendered =
        render_chat(t.messages, t.add_generation_prompt, t.continue_final_message, t.chat_template_kwargs, t.tools);
    if (rendered.ok()) {
      text = std::move(rendered.value());
    } else {
      error = rendered.error();
    }
  } else if (!error) {
    text = parsed.value().prompt;
    error = check_prompt_bytes(text.size(), options_.max_prompt_bytes);
  }
  if (error) {
    http::HttpResponse res = error_response(*error);
    co_await writer.send(std::move(res));
    co_return;
  }
  const Tokenizer& tok = engine_.tokenizer();
  const std::vector<int32_t> ids = tok.encode(text, parsed.value().add_special_tokens, true);
  boost::json::object o;
  o["count"] = static_cast<int64_t>(ids.size());
  o["max_model_len"] = static_cast<int64_t>(engine_.max_model_len());
  boost::json::array tokens;
  boost::json::array strs;
  for (int32_t id : ids) {
    tokens.emplace_back(id);
    if (parsed.value().return_token_strs) strs.emplace_back(tok.token_text(id));
  }
  o["tokens"] = std::move(tokens);
  if (parsed.value().return_token_strs) {
    o["token_strs"] = std::move(strs);
  } else {
    o["token_strs"] = nullptr;
  }
  http::HttpResponse res = json_response(o);
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::detokenize(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<DetokenizeRequest> parsed = parse_detokenize_request(req.body);
  std::optional<ApiError> error;
  std::vector<int32_t> ids;
  if (!parsed.ok()) {
    error = parsed.error();
  } else {
    error = check_model(parsed.value().model);
  }
  if (!error) {
    const int64_t vocab = engine_.tokenizer().vocab_size();
    for (int64_t id : parsed.value().tokens) {
      if (id < 0 || id >= vocab) {
        error = bad_request("Token id " + std::to_string(id) + " is out of vocabulary", "tokens");
        break;
      }
      ids.push_back(static_cast<int32_t>(id));
    }
  }
  if (error) {
    http::HttpResponse res = error_response(*error);
    co_await writer.send(std::move(res));
    co_return;
  }
  boost::json::object o;
  o["prompt"] = engine_.tokenizer().decode(ids, /*skip_special_tokens=*/false);
  http::HttpResponse res = json_response(o);
  co_await writer.send(std::move(res));
}

}  // namespace podserve::openai
