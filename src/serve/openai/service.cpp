#include "serve/openai/service.h"

#include <algorithm>

#include "base/log.h"
#include "serve/metrics.h"
#include "serve/openai/errors.h"
#include "serve/openai/generate.h"
#include "serve/openai/protocol.h"
#include "serve/openai/responses.h"
#include "serve/openai/sampling_fields.h"
#include "tokenizer/tokenizer.h"

namespace podserve::openai {
namespace {

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

void log_ignored_fields(const std::vector<std::string>& fields) {
  if (fields.empty()) return;
  std::string list;
  for (const std::string& f : fields) list += (list.empty() ? "'" : ", '") + f + "'";
  PODSERVE_LOG(kWarning) << "The following fields were present in the request but ignored: {" << list << "}";
}

ResponseMeta make_meta(std::string_view prefix, const std::optional<std::string>& client_id,
                       const std::string& engine_id, const std::string& model) {
  ResponseMeta meta;
  meta.id = client_id ? std::string(prefix) + *client_id : engine_id;
  meta.created = unix_now();
  meta.model = model;
  return meta;
}

}  // namespace

OpenAiService::OpenAiService(Engine& engine, ServiceOptions options, std::unique_ptr<PromptRenderer> renderer)
    : engine_(engine), options_(std::move(options)), renderer_(std::move(renderer)), created_(unix_now()) {}

void OpenAiService::register_routes(http::Router& router) {
  router.add("GET", "/health", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return health(r, w); });
  router.add("GET", "/metrics",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return metrics(r, w); });
  router.add("GET", "/v1/models", [this](const http::HttpRequest& r, http::ResponseWriter& w) { return models(r, w); });
  router.add("POST", "/v1/chat/completions",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return chat_completions(r, w); });
  router.add("POST", "/v1/completions",
             [this](const http::HttpRequest& r, http::ResponseWriter& w) { return completions(r, w); });
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

http::HttpResponse OpenAiService::http_error(int status, const std::string& message) {
  return error_response(status, message);
}

http::awaitable<void> OpenAiService::health(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, "", ""};  // vLLM: 200 with an empty body
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::metrics(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, std::string(kPrometheusContentType),
                         render_prometheus(engine_.stats(), options_.served_model_name)};
  co_await writer.send(std::move(res));
}

http::awaitable<void> OpenAiService::models(const http::HttpRequest&, http::ResponseWriter& writer) {
  http::HttpResponse res{200, "application/json",
                         model_list_json(options_.served_model_name, options_.model_root, created_,
                                         engine_.max_model_len())};
  co_await writer.send(std::move(res));
}

std::optional<ApiError> OpenAiService::check_model(const std::optional<std::string>& model) const {
  if (!model || *model == options_.served_model_name) return std::nullopt;
  return api_error(StatusCode::kNotFound, "The model `" + *model + "` does not exist.", "model");
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
    // Chat (default < 0): the rest of the context, as vLLM. Completions: OpenAI's 16, clamped to what fits.
    max_tokens = default_max_tokens < 0 ? limit - prompt_len : std::min<int64_t>(default_max_tokens,
                                                                                   limit - prompt_len);
  }
  out->request_id = make_request_id("");
  out->params = common.sampling;
  out->params.max_tokens = static_cast<int>(max_tokens);
  out->params.min_tokens = std::min(out->params.min_tokens, out->params.max_tokens);
  out->prompt_tokens = std::move(prompt);
  return std::nullopt;
}

http::awaitable<void> OpenAiService::chat_completions(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<ChatRequest> parsed = parse_chat_request(req.body);
  if (!parsed.ok()) {
    co_await writer.send(error_response(parsed.error()));
    co_return;
  }
  ChatRequest& chat = parsed.value();
  log_ignored_fields(chat.common.ignored_fields);
  std::optional<ApiError> error = check_model(chat.common.model);
  Result<std::string> prompt = std::string();
  if (!error && renderer_ == nullptr) {
    error = bad_request(
        "As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat "
        "template if the tokenizer does not define one.");
  }
  if (!error) {
    // Rendering and tokenizing run here, on the connection's HTTP thread, never on the engine thread.
    prompt = renderer_->render(chat.messages, chat.add_generation_prompt, chat.chat_template_kwargs);
    if (!prompt.ok()) {
      // Template failures (raise_exception, undefined values, render budget) are the request's problem: 400.
      const Status& st = prompt.status();
      error = st.code() == StatusCode::kInternal ? ApiError{st, {}} : bad_request(st.message());
    }
  }
  PreparedGeneration gen;
  if (!error) {
    std::vector<int32_t> tokens = engine_.tokenizer().encode(*prompt, chat.add_special_tokens, true);
    error = finish_request(chat.common, /*chat=*/true, std::move(tokens), -1, &gen.request);
  }
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  gen.request.request_id = "chatcmpl-" + gen.request.request_id;
  gen.meta = make_meta("chatcmpl-", chat.common.request_id, gen.request.request_id, options_.served_model_name);
  gen.stream = chat.common.stream;
  gen.include_usage = chat.common.include_usage;
  gen.continuous_usage = chat.common.continuous_usage;
  gen.token_bytes = token_bytes();
  ChatFormat format(options_.response_role);
  co_await run_generation(engine_, std::move(gen), format, writer);
}

http::awaitable<void> OpenAiService::completions(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<CompletionRequest> parsed = parse_completion_request(req.body);
  if (!parsed.ok()) {
    co_await writer.send(error_response(parsed.error()));
    co_return;
  }
  CompletionRequest& cr = parsed.value();
  log_ignored_fields(cr.common.ignored_fields);
  std::optional<ApiError> error = check_model(cr.common.model);
  std::vector<int32_t> tokens;
  if (!error && cr.prompt_is_tokens) {
    const int64_t vocab = engine_.tokenizer().vocab_size();
    for (int64_t id : cr.prompt_tokens) {
      if (id < 0 || id >= vocab) {
        error = bad_request("Token id " + std::to_string(id) + " is out of vocabulary", "prompt");
        break;
      }
      tokens.push_back(static_cast<int32_t>(id));
    }
  } else if (!error) {
    tokens = engine_.tokenizer().encode(cr.prompt_text, cr.add_special_tokens, true);
  }
  PreparedGeneration gen;
  if (!error) error = finish_request(cr.common, /*chat=*/false, std::move(tokens), 16, &gen.request);
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  gen.request.request_id = "cmpl-" + gen.request.request_id;
  gen.meta = make_meta("cmpl-", cr.common.request_id, gen.request.request_id, options_.served_model_name);
  gen.stream = cr.common.stream;
  gen.include_usage = cr.common.include_usage;
  gen.continuous_usage = cr.common.continuous_usage;
  gen.token_bytes = token_bytes();
  CompletionFormat format;
  co_await run_generation(engine_, std::move(gen), format, writer);
}

}  // namespace podserve::openai
