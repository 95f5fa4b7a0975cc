#include "serve/openai/protocol.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>

#include "chat/json_value.h"
#include "chat/value.h"
#include "serve/openai/field_reader.h"
#include "serve/openai/sampling_fields.h"
#include "serve/openai/token_fields.h"
#include "serve/openai/tools/py_json.h"

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

}  // namespace

ApiResult<boost::json::object> parse_body(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return bad_request("Malformed JSON in request body: " + ec.message());
  if (!v.is_object()) return bad_request("The request body must be a JSON object");
  return std::move(v.get_object());
}

namespace {

/// Fields that change behaviour and are not implemented: any non-neutral value is a 400 naming the field.
/// (`logits_processors` is not here: vLLM V1 dropped the field, so it is logged as ignored, as vLLM does.)
constexpr std::string_view kUnsupportedFields[] = {
    "structural_tag", "kv_transfer_params", "prompt_embeds", "documents"};

/// Known fields that do not affect the output: accepted silently.
constexpr std::string_view kAcceptedFields[] = {
    "user", "spaces_between_special_tokens", "metadata", "store", "service_tier", "cache_salt",
    "vllm_xargs", "mm_processor_kwargs", "modalities", "prediction", "web_search_options",
    "chat_template_content_format"};

/// Beam search (engine/beam_search.h): vLLM's use_beam_search and length_penalty, with n as the beam width.
/// `early_stopping` is accepted and has no effect, as in vLLM (its requests have no such field: it ignores it).
/// vLLM's refusals: completions cannot stream beam search, nor echo with logprobs. Called after stream and
/// logprobs are read.
MaybeError read_beam_search(FieldReader& r, bool chat, CommonRequest* c) {
  if (auto e = r.get_bool("use_beam_search", &c->sampling.use_beam_search)) return e;
  std::optional<double> length_penalty;
  if (auto e = r.get_number("length_penalty", &length_penalty)) return e;
  if (length_penalty) c->sampling.length_penalty = static_cast<float>(*length_penalty);
  r.get("early_stopping");
  if (!c->sampling.use_beam_search || chat) return std::nullopt;
  if (c->echo && c->sampling.logprobs) {
    return validation_error("`echo` with `logprobs` is not supported with beam search because beam search does not "
                            "compute prompt logprobs.",
                            "echo");
  }
  if (c->stream) return bad_request("Streaming is not currently supported with beam search");
  return std::nullopt;
}

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
  if (auto e = read_beam_search(r, chat, c)) return e;
  if (c->stream && c->sampling.prompt_logprobs) {
    return bad_request("`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs");
  }
  if (c->stream && c->sampling.best_of > c->sampling.n) {
    return bad_request("best_of > n is not supported with `stream=True`: the best candidates are known only at "
                       "the end.",
                       "best_of");
  }
  if (auto e = read_structured_outputs(r, &c->structured)) return e;
  if (!chat) {  // completions: vLLM's CompletionRequest has no tools (extra fields are accepted and ignored)
    r.get("tools");
    r.get("tool_choice");
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

/// An assistant message of the history as vLLM hands it to templates (chat_utils.py): `reasoning_content` is
/// renamed `reasoning` and both keys carry it; `tool_calls` arguments given as JSON text become objects
/// (malformed or non-object JSON and missing arguments become {}), an empty list is dropped, entries that are
/// not function calls are 400s.
MaybeError prepare_assistant_history(boost::json::object* extra) {
  if (const boost::json::value* rc = extra->if_contains("reasoning_content")) {
    boost::json::value reasoning = *rc;
    extra->erase("reasoning_content");
    const boost::json::value* r = extra->if_contains("reasoning");
    if (!reasoning.is_null() && (r == nullptr || r->is_null())) (*extra)["reasoning"] = reasoning;
  }
  if (const boost::json::value* r = extra->if_contains("reasoning"); r != nullptr && !r->is_null()) {
    (*extra)["reasoning_content"] = *r;
  }
  boost::json::value* calls = extra->if_contains("tool_calls");
  if (calls == nullptr || !calls->is_array()) return std::nullopt;
  if (calls->get_array().empty()) {
    extra->erase("tool_calls");
    return std::nullopt;
  }
  for (boost::json::value& item : calls->get_array()) {
    if (!item.is_object()) return bad_request("assistant tool_calls entries must be objects. (parameter=tool_calls)", "tool_calls");
    boost::json::object& call = item.get_object();
    const boost::json::value* type = call.if_contains("type");
    boost::json::value* fn = call.if_contains("function");
    if ((type != nullptr && !(type->is_string() && type->get_string() == "function")) || fn == nullptr ||
        !fn->is_object()) {
      return bad_request(
          "chat completions only support assistant tool_calls of type 'function'. (parameter=tool_calls)",
          "tool_calls");
    }
    boost::json::object& f = fn->get_object();
    boost::json::value* args = f.if_contains("arguments");
    boost::json::value parsed = boost::json::object();
    if (args != nullptr && args->is_object()) {
      parsed = *args;
    } else if (args != nullptr && args->is_string() && !args->get_string().empty()) {
      std::optional<boost::json::value> v = json_loads(args->get_string());
      if (v && v->is_object()) parsed = std::move(*v);
    }
    f["arguments"] = std::move(parsed);
  }
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
    if (m.role == "assistant") {
      if (auto e = prepare_assistant_history(&m.extra)) return e;
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

/// Python's str() of a JSON value, as vLLM's f-strings show request values ('auto', True, None, ['a']).
std::string py_str(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  Result<jinja::Value> value = value_from_json(v);
  return value.ok() ? jinja::repr(*value) : boost::json::serialize(v);
}

/// `tools`: [{type: "function", function: {name, description?, parameters?, strict?}}] (pydantic's shape).
MaybeError read_tools(const boost::json::value& v, std::vector<ToolSpec>* out) {
  if (!v.is_array()) return bad_request("1 validation error:\n  Input should be a valid list", "tools");
  size_t i = 0;
  for (const boost::json::value& item : v.get_array()) {
    const std::string param = "tools." + std::to_string(i++);
    const boost::json::object* tool = item.if_object();
    const boost::json::value* fn = tool ? tool->if_contains("function") : nullptr;
    const boost::json::value* type = tool ? tool->if_contains("type") : nullptr;
    if (tool == nullptr || fn == nullptr || !fn->is_object() ||
        (type != nullptr && !(type->is_string() && type->get_string() == "function"))) {
      return bad_request("1 validation error:\n  Each tool must be {\"type\": \"function\", \"function\": {...}}",
                         param);
    }
    const boost::json::value* name = fn->get_object().if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return bad_request("1 validation error:\n  Field required: function.name must be a string", param + ".function.name");
    }
    ToolSpec spec;
    spec.name = std::string(name->get_string());
    if (const boost::json::value* params = fn->get_object().if_contains("parameters")) {
      if (!params->is_null() && !params->is_object()) {
        return bad_request("1 validation error:\n  Input should be a valid dictionary", param + ".function.parameters");
      }
      spec.parameters = *params;
    }
    // What the template sees: vLLM's model_dump() of the tool (every field, defaults included).
    boost::json::object f;
    f["name"] = spec.name;
    const boost::json::value* desc = fn->get_object().if_contains("description");
    f["description"] = desc ? *desc : boost::json::value(nullptr);
    f["parameters"] = spec.parameters;
    const boost::json::value* strict = fn->get_object().if_contains("strict");
    f["strict"] = strict ? *strict : boost::json::value(nullptr);
    spec.raw["type"] = "function";
    spec.raw["function"] = std::move(f);
    out->push_back(std::move(spec));
  }
  return std::nullopt;
}

/// tools, tool_choice, parallel_tool_calls, include_reasoning, reasoning_effort, and the legacy `functions`
/// (vLLM's ChatCompletionRequest has no such field: accepted and ignored, as every unknown field).
MaybeError read_tool_fields(FieldReader& r, const boost::json::object& body, ChatRequest* req) {
  const boost::json::value* tools = body.if_contains("tools");
  r.get("tools");
  if (tools != nullptr && tools->is_array() && tools->get_array().empty()) {
    return validation_error(
        "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely.", "tools");
  }
  if (tools != nullptr && !tools->is_null()) {
    req->tools.emplace();
    if (auto e = read_tools(*tools, &*req->tools)) return e;
  }
  const boost::json::value* choice = body.if_contains("tool_choice");
  r.get("tool_choice");
  if (choice == nullptr) {
    req->tool_choice.kind = req->tools ? ToolChoice::kAuto : ToolChoice::kNone;
  } else if (choice->is_null()) {
    req->tool_choice.kind = ToolChoice::kNull;
  } else if (choice->is_string() && choice->get_string() == "none") {
    req->tool_choice.kind = ToolChoice::kNone;
  } else {
    if (!req->tools) return validation_error("When using `tool_choice`, `tools` must be set.", "tool_choice");
    const std::string usage = "Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`";
    if (choice->is_string() && (choice->get_string() == "auto" || choice->get_string() == "required")) {
      req->tool_choice.kind = choice->get_string() == "auto" ? ToolChoice::kAuto : ToolChoice::kRequired;
    } else if (!choice->is_object()) {
      return validation_error("Invalid value for `tool_choice`: " + py_str(*choice) +
                                  "! Only named tools, \"none\", \"auto\" or \"required\" are supported.",
                              "tool_choice");
    } else {
      const boost::json::value* fn = choice->get_object().if_contains("function");
      if (fn == nullptr || !fn->is_object()) {
        return validation_error("Invalid value for `function`: `" + (fn == nullptr ? "None" : py_str(*fn)) +
                                    "` in `tool_choice`! " + usage,
                                "tool_choice.function");
      }
      const boost::json::value* name = fn->get_object().if_contains("name");
      if (name == nullptr) {
        return validation_error("Expected field `name` in `function` in `tool_choice`! " + usage,
                                "tool_choice.function.name");
      }
      if (!name->is_string() || name->get_string().empty()) {
        return validation_error("Invalid `name` in `function`: `" + py_str(*name) + "` in `tool_choice`! " + usage,
                                "tool_choice.function.name");
      }
      bool found = false;
      for (const ToolSpec& t : *req->tools) found = found || t.name == name->get_string();
      if (!found) {
        return validation_error("The tool specified in `tool_choice` does not match any of the specified `tools`",
                                "tool_choice");
      }
      req->tool_choice.kind = ToolChoice::kNamed;
      req->tool_choice.name = std::string(name->get_string());
    }
  }
  if (const boost::json::value* v = body.if_contains("parallel_tool_calls"); v != nullptr && !v->is_null()) {
    r.get("parallel_tool_calls");
    if (!v->is_bool()) return r.type_error("parallel_tool_calls", "a boolean", *v);
    req->parallel_tool_calls = v->get_bool();
  }
  if (auto e = r.get_bool("include_reasoning", &req->include_reasoning)) return e;
  if (auto e = r.get_string("reasoning_effort", &req->reasoning_effort)) return e;
  if (req->reasoning_effort) {
    static constexpr std::string_view kEfforts[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max"};
    if (std::find(std::begin(kEfforts), std::end(kEfforts), *req->reasoning_effort) == std::end(kEfforts)) {
      return bad_request("1 validation error:\n  Input should be 'none', 'minimal', 'low', 'medium', 'high', "
                         "'xhigh' or 'max'",
                         "reasoning_effort");
    }
  }
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
    if (const boost::json::value* tools = r.get("tools")) {
      req.tools.emplace();
      if (auto e = read_tools(*tools, &*req.tools)) return *e;
    }
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
  if (auto e = read_tool_fields(r, obj.value(), &req)) return *e;
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
