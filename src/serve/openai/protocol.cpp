#include "serve/openai/protocol.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <limits>

#include "serve/openai/field_reader.h"
#include "serve/openai/sampling_fields.h"
#include "serve/openai/token_fields.h"

namespace podserve::openai {
namespace {

ApiError unsupported(std::string_view key, std::string_view detail = {}) {
  std::string msg = "'" + std::string(key) + "' is not supported yet";
  if (!detail.empty()) msg += " (" + std::string(detail) + ")";
  return api_error(StatusCode::kUnimplemented, msg, std::string(key));
}

/// True for values that ask for nothing: null, false, 0, "", [], {}.
bool is_neutral(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return true;
    case boost::json::kind::bool_: return !v.get_bool();
    case boost::json::kind::int64: return v.get_int64() == 0;
    case boost::json::kind::uint64: return v.get_uint64() == 0;
    case boost::json::kind::double_: return v.get_double() == 0.0;
    case boost::json::kind::string: return v.get_string().empty();
    case boost::json::kind::array: return v.get_array().empty();
    case boost::json::kind::object: return v.get_object().empty();
  }
  return false;
}

ApiResult<boost::json::object> parse_body(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return bad_request("Malformed JSON in request body: " + ec.message());
  if (!v.is_object()) return bad_request("The request body must be a JSON object");
  return std::move(v.get_object());
}

/// Fields that change behaviour and are not implemented: any non-neutral value is a 400 naming the field.
/// (`logits_processors` is not here: vLLM V1 dropped the field, so it is logged as ignored, as vLLM does.)
constexpr std::string_view kUnsupportedFields[] = {
    "use_beam_search", "structural_tag", "kv_transfer_params", "prompt_embeds", "functions", "function_call",
    "documents"};

/// Known fields that do not affect the output: accepted silently.
constexpr std::string_view kAcceptedFields[] = {
    "user", "spaces_between_special_tokens", "length_penalty", "parallel_tool_calls", "reasoning_effort",
    "include_reasoning", "metadata", "store", "service_tier", "cache_salt", "vllm_xargs", "mm_processor_kwargs",
    "modalities", "prediction", "web_search_options",
    "chat_template_content_format"};

/// Everything both endpoints share. `logprobs` differs in type (bool for chat, int for completions).
MaybeError read_common(FieldReader& r, bool chat, CommonRequest* c) {
  if (auto e = r.get_string("model", &c->model)) return e;
  if (auto e = r.get_bool("echo", &c->echo)) return e;  // before read_sampling: echo allows max_tokens 0
  if (auto e = read_sampling(r, c)) return e;
  if (auto e = r.get_bool("stream", &c->stream)) return e;
  std::optional<boost::json::object> so;
  if (auto e = r.get_object("stream_options", &so)) return e;
  if (so) {
    if (!c->stream) {
      return bad_request("Stream options can only be defined when `stream=True`.", "stream_options");
    }
    FieldReader sr(*so, "stream_options.");
    c->include_usage = true;  // vLLM: include_usage defaults to true inside stream_options
    if (auto e = sr.get_bool("include_usage", &c->include_usage)) return e;
    if (auto e = sr.get_bool("continuous_usage_stats", &c->continuous_usage)) return e;
  }
  if (auto e = r.get_string("request_id", &c->request_id)) return e;
  if (auto e = r.get_int("truncate_prompt_tokens", &c->truncate_prompt_tokens)) return e;
  if (c->truncate_prompt_tokens && *c->truncate_prompt_tokens < -1) {
    return bad_request("'truncate_prompt_tokens' must be >= -1 (-1 means max_model_len)", "truncate_prompt_tokens");
  }
  if (const boost::json::value* v = r.get("suffix"); v != nullptr && !is_neutral(*v)) {
    return bad_request("suffix is not currently supported", "suffix");
  }

  if (auto e = read_logprobs(r, chat, &c->sampling)) return e;
  if (auto e = read_token_fields(r, c)) return e;
  if (c->stream && c->sampling.prompt_logprobs) {
    return bad_request("`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs");
  }
  if (c->stream && c->sampling.best_of > c->sampling.n) {
    return bad_request("best_of > n is not supported with `stream=True`: the best candidates are known only at "
                       "the end.",
                       "best_of");
  }
  if (auto e = read_structured_outputs(r, &c->structured)) return e;
  const boost::json::value* tools = r.get("tools");
  if (tools != nullptr && !tools->is_array()) return r.type_error("tools", "a list", *tools);
  if (tools != nullptr && !tools->get_array().empty()) return unsupported("tools");
  if (const boost::json::value* v = r.get("tool_choice")) {
    if (!(v->is_string() && (v->get_string() == "none" || v->get_string() == "auto"))) {
      return bad_request("When using `tool_choice`, `tools` must be set.", "tool_choice");
    }
  }
  for (std::string_view key : kUnsupportedFields) {
    if (const boost::json::value* v = r.get(key); v != nullptr && !is_neutral(*v)) return unsupported(key);
  }
  for (std::string_view key : kAcceptedFields) r.get(key);
  return std::nullopt;
}

/// content: a string, null, or a list of {"type":"text","text":...} parts (joined with "\n").
MaybeError read_content(const boost::json::value& v, const std::string& param, std::optional<std::string>* out) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    *out = std::string(v.get_string());
    return std::nullopt;
  }
  if (!v.is_array()) {
    return bad_request("Invalid type for '" + param + "': expected a string or a list of content parts, got " +
                           std::string(json_kind_name(v)),
                       param);
  }
  std::string text;
  bool first = true;
  for (const auto& part : v.get_array()) {
    const boost::json::object* obj = part.if_object();
    const boost::json::value* type = obj ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      return bad_request("Each part of '" + param + "' must be an object with a string 'type'", param);
    }
    if (type->get_string() != "text") {
      return api_error(StatusCode::kUnimplemented,
                       "Content parts of type '" + std::string(type->get_string()) + "' are not supported yet",
                       param);
    }
    const boost::json::value* t = obj->if_contains("text");
    if (t == nullptr || !t->is_string()) {
      return bad_request("A text part of '" + param + "' needs a string 'text'", param);
    }
    if (!first) text += '\n';
    text += t->get_string();
    first = false;
  }
  *out = std::move(text);
  return std::nullopt;
}

MaybeError read_messages(FieldReader& r, std::vector<ChatMessage>* out) {
  const boost::json::value* v = r.get("messages");
  if (v == nullptr) return bad_request("'messages' is required", "messages");
  if (!v->is_array()) return r.type_error("messages", "a list of messages", *v);
  if (v->get_array().empty()) return bad_request("'messages' must contain at least one message", "messages");
  size_t index = 0;
  for (const auto& item : v->get_array()) {
    std::string param = "messages[" + std::to_string(index++) + "]";
    const boost::json::object* obj = item.if_object();
    if (obj == nullptr) return r.type_error(param, "an object", item);
    ChatMessage m;
    const boost::json::value* role = obj->if_contains("role");
    if (role == nullptr || !role->is_string() || role->get_string().empty()) {
      return bad_request("'" + param + ".role' is required and must be a string", param + ".role");
    }
    m.role = std::string(role->get_string());
    if (const boost::json::value* content = obj->if_contains("content")) {
      if (auto e = read_content(*content, param + ".content", &m.content)) return e;
    }
    for (const auto& kv : *obj) {
      if (kv.key() != "role" && kv.key() != "content") m.extra.emplace(kv.key(), kv.value());
    }
    out->push_back(std::move(m));
  }
  return std::nullopt;
}

MaybeError read_token_list(const boost::json::array& arr, std::vector<int64_t>* out) {
  for (const auto& item : arr) {
    int64_t id = 0;
    if (!json_to_int64(item, &id)) {
      return bad_request("Invalid type for 'prompt': token ids must be integers, got " +
                             std::string(json_kind_name(item)),
                         "prompt");
    }
    out->push_back(id);
  }
  return std::nullopt;
}

/// prompt: a string, a list of token ids, or a batch: a list of strings or a list of token-id lists.
MaybeError read_prompt(FieldReader& r, CompletionRequest* c) {
  const boost::json::value* v = r.get("prompt");
  if (v == nullptr) return bad_request("Either prompt or prompt_embeds must be provided.", "prompt");
  if (v->is_string()) {
    c->prompt_text = std::string(v->get_string());
    return std::nullopt;
  }
  if (!v->is_array()) return r.type_error("prompt", "a string, a list of strings or a list of token ids", *v);
  const boost::json::array& arr = v->get_array();
  if (arr.empty()) return bad_request("'prompt' must not be empty", "prompt");
  if (arr[0].is_string() || arr[0].is_array()) {
    for (size_t i = 1; i < arr.size(); ++i) {  // a batch: one choice per prompt (x n)
      PromptInput p;
      if (arr[0].is_string() && arr[i].is_string()) {
        p.text = std::string(arr[i].get_string());
      } else if (arr[0].is_array() && arr[i].is_array()) {
        p.is_tokens = true;
        if (auto e = read_token_list(arr[i].get_array(), &p.tokens)) return e;
      } else {
        return r.type_error("prompt", "a list of strings or a list of token-id lists (not mixed)", arr[i]);
      }
      c->extra_prompts.push_back(std::move(p));
    }
    if (arr[0].is_string()) {
      c->prompt_text = std::string(arr[0].get_string());
      return std::nullopt;
    }
    c->prompt_is_tokens = true;
    return read_token_list(arr[0].get_array(), &c->prompt_tokens);
  }
  c->prompt_is_tokens = true;
  return read_token_list(arr, &c->prompt_tokens);
}

/// add_generation_prompt, continue_final_message (mutually exclusive, vLLM's message), chat_template_kwargs.
MaybeError read_chat_template_fields(FieldReader& r, bool* add_generation_prompt, bool* continue_final_message,
                                     boost::json::object* kwargs) {
  if (auto e = r.get_bool("add_generation_prompt", add_generation_prompt)) return e;
  if (auto e = r.get_bool("continue_final_message", continue_final_message)) return e;
  if (*continue_final_message && *add_generation_prompt) {
    return bad_request("Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
                       "continue_final_message");
  }
  std::optional<boost::json::object> kw;
  if (auto e = r.get_object("chat_template_kwargs", &kw)) return e;
  if (kw) *kwargs = std::move(*kw);
  return std::nullopt;
}

}  // namespace

ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  ApiResult<boost::json::object> obj = parse_body(body);
  if (!obj.ok()) return obj.error();
  FieldReader r(obj.value());
  TokenizeRequest req;
  if (auto e = r.get_string("model", &req.model)) return *e;
  if (obj.value().contains("messages")) {
    req.is_chat = true;
    req.add_special_tokens = false;  // vLLM: the chat template already writes BOS
    if (auto e = read_messages(r, &req.messages)) return *e;
    if (auto e = read_chat_template_fields(r, &req.add_generation_prompt, &req.continue_final_message,
                                           &req.chat_template_kwargs)) {
      return *e;
    }
    if (r.get("chat_template") != nullptr) {
      return bad_request(
          "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request "
          "with untrusted chat template.",
          "chat_template");
    }
    const boost::json::value* tools = r.get("tools");
    if (tools != nullptr && !(tools->is_array() && tools->get_array().empty())) return unsupported("tools");
  } else {
    std::optional<std::string> prompt;
    if (auto e = r.get_string("prompt", &prompt)) return *e;
    if (!prompt) return bad_request("Either 'prompt' or 'messages' must be provided.", "prompt");
    req.prompt = std::move(*prompt);
  }
  if (auto e = r.get_bool("add_special_tokens", &req.add_special_tokens)) return *e;
  if (auto e = r.get_bool("return_token_strs", &req.return_token_strs)) return *e;
  return req;
}

ApiResult<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  ApiResult<boost::json::object> obj = parse_body(body);
  if (!obj.ok()) return obj.error();
  FieldReader r(obj.value());
  DetokenizeRequest req;
  if (auto e = r.get_string("model", &req.model)) return *e;
  const boost::json::value* v = r.get("tokens");
  if (v == nullptr) return bad_request("'tokens' is required", "tokens");
  if (!v->is_array()) return r.type_error("tokens", "a list of token ids", *v);
  for (const auto& item : v->get_array()) {
    int64_t id = 0;
    if (!json_to_int64(item, &id)) {
      return bad_request("Invalid type for 'tokens': token ids must be integers, got " +
                             std::string(json_kind_name(item)),
                         "tokens");
    }
    req.tokens.push_back(id);
  }
  return req;
}

ApiResult<ChatRequest> parse_chat_request(std::string_view body, const SamplingParams& defaults) {
  ApiResult<boost::json::object> obj = parse_body(body);
  if (!obj.ok()) return obj.error();
  FieldReader r(obj.value());
  ChatRequest req;
  req.common.sampling = defaults;
  if (auto e = read_messages(r, &req.messages)) return *e;
  if (auto e = read_common(r, /*chat=*/true, &req.common)) return *e;
  if (auto e = read_chat_template_fields(r, &req.add_generation_prompt, &req.continue_final_message,
                                         &req.chat_template_kwargs)) {
    return *e;
  }
  if (auto e = r.get_bool("add_special_tokens", &req.add_special_tokens)) return *e;
  if (r.get("chat_template") != nullptr) {
    return bad_request(
        "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request "
        "with untrusted chat template.",
        "chat_template");
  }
  req.common.ignored_fields = r.unread_keys();
  return req;
}

ApiResult<CompletionRequest> parse_completion_request(std::string_view body, const SamplingParams& defaults) {
  ApiResult<boost::json::object> obj = parse_body(body);
  if (!obj.ok()) return obj.error();
  FieldReader r(obj.value());
  CompletionRequest req;
  req.common.sampling = defaults;
  if (auto e = read_prompt(r, &req)) return *e;
  if (auto e = read_common(r, /*chat=*/false, &req.common)) return *e;
  if (auto e = r.get_bool("add_special_tokens", &req.add_special_tokens)) return *e;
  req.common.ignored_fields = r.unread_keys();
  return req;
}

}  // namespace podserve::openai
