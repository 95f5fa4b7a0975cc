#include "worker/job_input.h"

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string_view>

namespace podserve::worker {
namespace {

namespace json = boost::json;

/// vLLM SamplingParams keys the completions/chat routes take under the same name.
constexpr std::array<std::string_view, 17> kForwardedSampling = {
    "n", "best_of", "presence_penalty", "frequency_penalty", "repetition_penalty", "temperature", "top_p", "top_k",
    "min_p", "seed", "stop", "stop_token_ids", "include_stop_str_in_output", "ignore_eos", "max_tokens",
    "min_tokens", "skip_special_tokens"};
/// More SamplingParams keys the routes take by name.
constexpr std::array<std::string_view, 8> kForwardedSampling2 = {
    "spaces_between_special_tokens", "truncate_prompt_tokens", "logit_bias", "bad_words", "allowed_token_ids",
    "use_beam_search", "length_penalty", "early_stopping"};
/// SamplingParams keys that change nothing in the native output (it carries text only): accepted, not used.
constexpr std::array<std::string_view, 3> kNoEffectSampling = {"logprobs", "prompt_logprobs", "detokenize"};
/// SamplingParams keys of vLLM that podserve does not implement (yet): a clear failure, not silence.
constexpr std::array<std::string_view, 2> kUnsupportedSampling = {"output_kind", "extra_args"};
/// vLLM's StructuredOutputsParams (and GuidedDecodingParams, its name in older releases): the route's
/// `structured_outputs` field takes the same keys.
constexpr std::array<std::string_view, 2> kStructuredSampling = {"structured_outputs", "guided_decoding"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

bool truthy(const json::value* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string()) return !v->get_string().empty();
  if (v->is_object()) return !v->get_object().empty();
  if (v->is_array()) return !v->get_array().empty();
  if (v->is_int64()) return v->get_int64() != 0;
  if (v->is_uint64()) return v->get_uint64() != 0;
  return v->get_double() != 0;
}

Status fail(std::string message) { return invalid_argument(std::move(message)); }

/// A batch-size override: absent, null or 0 keeps the default (the classic worker's `x or default`).
Status read_batch_number(const json::object& in, std::string_view key, double lo, double* out) {
  const json::value* v = in.if_contains(key);
  if (v == nullptr || v->is_null()) return ok_status();
  if (!v->is_number() || v->is_bool()) return fail("'" + std::string(key) + "' must be a number");
  const double d = v->to_number<double>();
  if (d == 0) return ok_status();
  if (d < lo || d > 1e9) return fail("'" + std::string(key) + "' must be at least " + std::to_string(int(lo)));
  *out = d;
  return ok_status();
}

Result<JobPlan> plan_openai(const json::object& in, const WorkerConfig& config) {
  JobPlan plan;
  plan.batch = config.batch;  // the classic worker ignores the per-job sizes on OpenAI routes
  const json::value* route = in.if_contains("openai_route");
  const json::value* body = in.if_contains("openai_input");
  if (truthy(route)) {
    if (!route->is_string()) return fail("'openai_route' must be a string");
    plan.path = std::string(route->get_string());
    if (plan.path != "/v1/chat/completions" && plan.path != "/v1/completions" && plan.path != "/v1/models") {
      return fail("Invalid route '" + plan.path +
                  "': openai_route must be /v1/chat/completions, /v1/completions or /v1/models");
    }
    plan.method = plan.path == "/v1/models" ? "GET" : "POST";
  } else {
    // The newer form: `openai_input` alone is a chat request.
    plan.path = "/v1/chat/completions";
    plan.method = "POST";
  }
  if (plan.method == "POST") {
    if (body == nullptr || !body->is_object()) return fail("'openai_input' must be a JSON object (the request body)");
    plan.body = json::serialize(*body);
  }
  return plan;
}

Result<JobPlan> plan_generic_route(const json::object& in, const WorkerConfig& config) {
  JobPlan plan;
  plan.batch = config.batch;
  const json::value& route = in.at("route");
  if (!route.is_string() || !route.get_string().starts_with("/")) {
    return fail("'route' must be a path starting with '/'");
  }
  plan.path = std::string(route.get_string());
  const json::value* body = in.if_contains("body");
  const json::value* method = in.if_contains("method");
  if (truthy(method)) {
    if (!method->is_string()) return fail("'method' must be a string");
    plan.method = std::string(method->get_string());
    std::transform(plan.method.begin(), plan.method.end(), plan.method.begin(),
                   [](unsigned char ch) { return std::toupper(ch); });
  } else {
    plan.method = truthy(body) ? "POST" : "GET";
  }
  if (truthy(body)) {
    if (!body->is_object()) return fail("'body' must be a JSON object");
    plan.body = json::serialize(*body);
  } else if (plan.method == "POST") {
    plan.body = "{}";
  }
  return plan;
}

Result<JobPlan> plan_native(const json::object& in, const WorkerConfig& config) {
  JobPlan plan;
  plan.native = true;
  plan.method = "POST";
  plan.batch = config.batch;
  json::object body;

  const json::value* messages = in.if_contains("messages");
  const json::value* prompt = in.if_contains("prompt");
  const bool has_messages = messages != nullptr && !messages->is_null();
  const bool has_prompt = prompt != nullptr && !prompt->is_null();
  if (!has_messages && !has_prompt) {
    return fail("Job input must contain 'prompt' or 'messages' (or 'openai_route' with 'openai_input', or 'route')");
  }
  bool apply_template = false;
  if (const json::value* v = in.if_contains("apply_chat_template"); v != nullptr && !v->is_null()) {
    if (!v->is_bool()) return fail("'apply_chat_template' must be a boolean");
    apply_template = v->get_bool();
  }
  if (has_messages) {  // messages win over prompt, as in the classic worker
    if (!messages->is_array() || messages->get_array().empty()) {
      return fail("'messages' must be a non-empty list of {\"role\", \"content\"} objects");
    }
    body["messages"] = *messages;
    plan.native_chat = true;
  } else {
    if (!prompt->is_string()) return fail("'prompt' must be a string");
    if (apply_template) {
      json::object user{{"role", "user"}, {"content", prompt->get_string()}};
      body["messages"] = json::array{std::move(user)};
      plan.native_chat = true;
    } else {
      body["prompt"] = *prompt;
    }
  }
  plan.path = plan.native_chat ? "/v1/chat/completions" : "/v1/completions";

  body["max_tokens"] = 100;  // the classic worker's default (vLLM's own is 16)
  if (const json::value* sp = in.if_contains("sampling_params"); sp != nullptr && !sp->is_null()) {
    if (!sp->is_object()) return fail("'sampling_params' must be a JSON object");
    for (const auto& [key, value] : sp->get_object()) {
      if (contains(kForwardedSampling, key) || contains(kForwardedSampling2, key)) {
        body[key] = value;
      } else if (contains(kNoEffectSampling, key)) {
        continue;
      } else if (contains(kStructuredSampling, key)) {
        if (!value.is_null()) body["structured_outputs"] = value;
      } else if (contains(kUnsupportedSampling, key)) {
        return fail("sampling_params: '" + std::string(key) + "' is not supported by podserve");
      } else {
        return fail("sampling_params: unknown parameter '" + std::string(key) +
                    "' (SamplingParams.__init__() got an unexpected keyword argument '" + std::string(key) + "')");
      }
    }
  }
  if (const json::value* n = body.if_contains("n"); n != nullptr && n->is_int64() && n->get_int64() > 1) {
    plan.native_n = static_cast<int>(std::min<int64_t>(n->get_int64(), 1 << 16));
  }
  if (const json::value* v = in.if_contains("stream"); v != nullptr && !v->is_null()) {
    if (!v->is_bool()) return fail("'stream' must be a boolean");
    plan.native_stream = v->get_bool();
  }
  body["stream"] = plan.native_stream;
  if (plan.native_stream) {
    // Every chunk then carries the running token counts the native output reports.
    body["stream_options"] = json::object{{"include_usage", true}, {"continuous_usage_stats", true}};
  }
  if (Status st = read_batch_number(in, "max_batch_size", 1, &plan.batch.max); !st.ok()) return st;
  if (Status st = read_batch_number(in, "min_batch_size", 1, &plan.batch.min); !st.ok()) return st;
  if (Status st = read_batch_number(in, "batch_size_growth_factor", 1, &plan.batch.growth); !st.ok()) return st;
  plan.body = json::serialize(body);
  return plan;
}

}  // namespace

Result<JobPlan> plan_job(const json::value& input, const WorkerConfig& config) {
  if (!input.is_object()) return fail("Job input must be a JSON object");
  const json::object& in = input.get_object();
  if (truthy(in.if_contains("openai_route")) || truthy(in.if_contains("openai_input"))) {
    return plan_openai(in, config);
  }
  if (truthy(in.if_contains("route"))) return plan_generic_route(in, config);
  return plan_native(in, config);
}

}  // namespace podserve::worker
