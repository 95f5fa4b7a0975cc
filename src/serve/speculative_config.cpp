#include "serve/speculative_config.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

namespace podserve {
namespace {

namespace json = boost::json;

// vLLM 0.32.0's SpeculativeConfig fields (vllm/config/speculative.py); anything else is "Extra inputs are not
// permitted". The first group is what podserve reads; the rest only matter to model-based methods or GPUs.
constexpr std::array<std::string_view, 5> kUsed = {"method", "model", "num_speculative_tokens", "prompt_lookup_max",
                                                   "prompt_lookup_min"};
constexpr std::array<std::string_view, 33> kKnown = {
    "enforce_eager", "draft_tensor_parallel_size", "tensor_parallel_size", "quantization", "moe_backend",
    "attention_backend", "kv_cache_dtype", "max_model_len", "revision", "code_revision",
    "index_share_for_mtp_iteration", "disable_padded_drafter_batch", "disable_eagle_block_drop",
    "use_local_argmax_reduction", "use_heterogeneous_vocab", "parallel_drafting", "target_model_config",
    "target_parallel_config", "num_speculative_tokens_per_batch_size", "draft_model_config", "draft_parallel_config",
    "suffix_decoding_max_tree_depth", "suffix_decoding_max_cached_requests", "suffix_decoding_max_spec_factor",
    "suffix_decoding_min_token_prob", "draft_load_config", "rejection_sample_method", "synthetic_acceptance_rates",
    "synthetic_acceptance_length", "enable_adaptive_verification", "draft_sample_method", "dspark_draft_topk",
    "dflash_config"};
// The methods vLLM 0.32.0 knows (SpeculativeMethod, in its order, as its validation message lists them); podserve
// runs ngram only.
constexpr std::array<std::string_view, 39> kVllmMethods = {
    "ngram", "medusa", "mlp_speculator", "draft_model", "suffix", "custom_class", "eagle", "eagle3",
    "extract_hidden_states", "deepseek_mtp", "dots3_note_mtp", "mimo_mtp", "mimo_v2_mtp", "glm4_moe_mtp",
    "glm4_moe_lite_mtp", "glm_ocr_mtp", "ernie_mtp", "nemotron_h_mtp", "exaone_moe_mtp", "exaone4_5_mtp",
    "qwen3_next_mtp", "qwen4_exp_mtp", "qwen3_5_mtp", "longcat_flash_mtp", "bailing_hybrid_v3_mtp", "minimax_m3_mtp",
    "bailing_hybrid_mtp", "mtp", "kimi_k3_mtp", "pangu_ultra_moe_mtp", "step3p5_mtp", "hy_v3_mtp", "hy_v4_mtp",
    "gemma4_mtp", "inkling_mtp", "glm5_next_mtp", "dflash", "ngram_gpu", "dspark"};

std::string method_choices() {
  std::string out = "Input should be ";
  for (size_t i = 0; i < kVllmMethods.size(); ++i) {
    if (i > 0) out += i + 1 == kVllmMethods.size() ? " or " : ", ";
    out += "'" + std::string(kVllmMethods[i]) + "'";
  }
  return out;
}

/// A strictly parsed integer, as Python's int() on the worker's variables.
bool parse_number(const std::string& text, int64_t* out) {
  std::string_view s(text);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

Status validation_error(const std::string& source, const std::string& field, const std::string& what) {
  return invalid_argument(source + ": 1 validation error for SpeculativeConfig: " + field + ": " + what);
}

/// An optional integer field with pydantic's bound (`ge` or `gt`); absent and null leave `*out` unset (-1).
Status read_int(const json::object& o, std::string_view key, const std::string& source, int lower, bool strict,
                int* out) {
  *out = -1;
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return ok_status();
  int64_t x = 0;
  const std::string field(key);
  if (v->is_int64()) {
    x = v->get_int64();
  } else if (v->is_uint64()) {
    x = static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT32_MAX + 1ull));
  } else if (v->is_double()) {  // pydantic's lax mode: 3.0 is 3
    const double d = v->get_double();
    if (d != std::floor(d) || !std::isfinite(d)) {
      return validation_error(source, field, "Input should be a valid integer, got a number with a fractional part");
    }
    x = static_cast<int64_t>(std::clamp(d, -1e12, 1e12));
  } else if (v->is_string()) {  // ... and "4" is 4
    if (!parse_number(std::string(v->get_string()), &x)) {
      return validation_error(source, field, "Input should be a valid integer, unable to parse string as an integer");
    }
  } else {
    return validation_error(source, field, "Input should be a valid integer");
  }
  if (strict ? x <= lower : x < lower) {
    return validation_error(source, std::string(key), std::string("Input should be greater than ") +
                                                          (strict ? "" : "or equal to ") + std::to_string(lower));
  }
  if (x > 1 << 20) return validation_error(source, std::string(key), "Input is too large");
  *out = static_cast<int>(x);
  return ok_status();
}

Status read_string(const json::object& o, std::string_view key, const std::string& source, std::string* out,
                   bool* present) {
  *present = false;
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return ok_status();
  if (!v->is_string()) return validation_error(source, std::string(key), "Input should be a valid string");
  *out = std::string(v->get_string());
  *present = true;
  return ok_status();
}

bool contains(std::string_view haystack, std::string_view needle) {
  std::string lower(haystack);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find(needle) != std::string::npos;
}

}  // namespace

Result<SpeculativeConfig> parse_speculative_config(const std::string& text, const std::string& source,
                                                   std::vector<std::string>* warnings) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    return invalid_argument("Invalid value for " + source + ": expected a JSON object such as {\"method\": \"ngram\", "
                            "\"num_speculative_tokens\": 3}");
  }
  const json::object& o = parsed.get_object();
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (std::find(kUsed.begin(), kUsed.end(), key) != kUsed.end()) continue;
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
      return validation_error(source, std::string(key), "Unexpected keyword argument");
    }
    if (!kv.value().is_null() && warnings != nullptr && key != "draft_sample_method" &&
        key != "rejection_sample_method") {
      warnings->push_back(source + ": speculative_config." + std::string(key) +
                          " has no effect in podserve (it concerns model-based drafting or GPUs)");
    }
  }
  // The sampling variants podserve does not implement (vLLM's defaults are what it runs).
  for (const auto& [key, standard] : {std::pair<std::string_view, std::string_view>{"draft_sample_method", "greedy"},
                                      {"rejection_sample_method", "standard"}}) {
    const json::value* v = o.if_contains(key);
    if (v != nullptr && !v->is_null() && !(v->is_string() && v->get_string() == standard)) {
      return invalid_argument(source + ": " + std::string(key) + " " + json::serialize(*v) +
                              " is not supported by podserve (only \"" + std::string(standard) + "\")");
    }
  }
  std::string method, model;
  bool has_method = false, has_model = false;
  if (const json::value* m = o.if_contains("method"); m != nullptr && !m->is_null()) {
    if (!m->is_string() || std::find(kVllmMethods.begin(), kVllmMethods.end(), std::string_view(m->get_string())) ==
                               kVllmMethods.end()) {
      return validation_error(source, "method", method_choices());
    }
    method = std::string(m->get_string());
    has_method = true;
  }
  PODSERVE_RETURN_IF_ERROR(read_string(o, "model", source, &model, &has_model));
  int k = -1, lookup_max = -1, lookup_min = -1, draft_tp = -1, draft_len = -1;
  PODSERVE_RETURN_IF_ERROR(read_int(o, "draft_tensor_parallel_size", source, 1, false, &draft_tp));
  PODSERVE_RETURN_IF_ERROR(read_int(o, "max_model_len", source, 1, false, &draft_len));
  if (draft_tp > 1) {
    return invalid_argument(source + ": draft_tensor_parallel_size=" + std::to_string(draft_tp) +
                            " cannot be other than 1 or target model tensor_parallel_size=1");
  }
  PODSERVE_RETURN_IF_ERROR(read_int(o, "num_speculative_tokens", source, 0, /*strict=*/true, &k));
  PODSERVE_RETURN_IF_ERROR(read_int(o, "prompt_lookup_max", source, 1, false, &lookup_max));
  PODSERVE_RETURN_IF_ERROR(read_int(o, "prompt_lookup_min", source, 1, false, &lookup_min));
  // vLLM's __post_init__: the method from the model when absent; "ngram" as the model means the ngram method.
  if (!has_method) {
    if (has_model && (model == "ngram" || model == "[ngram]")) {
      method = "ngram";
    } else if (has_model && model.find('.') != std::string::npos && model.find('/') == std::string::npos) {
      method = "custom_class";
    } else {
      method = "draft_model";
    }
  }
  if (method == "ngram" && !has_model) model = "ngram";
  if (!has_model && k > 0 && method != "ngram" && method != "ngram_gpu" && method != "suffix" && method != "mtp" &&
      method != "dspark" && method != "extract_hidden_states" && method != "custom_class") {
    return invalid_argument(source + ": num_speculative_tokens was provided but without speculative model.");
  }
  if (method == "draft_model" && has_model) {  // vLLM refines the method from the draft's name
    if (contains(model, "eagle-")) method = "eagle";
    else if (contains(model, "eagle3")) method = "eagle3";
    else if (contains(model, "dflash")) method = "dflash";
    else if (contains(model, "dspark")) method = "dspark";
  }
  SpeculativeConfig config;
  if (method == "ngram") {
    if (lookup_min < 0 && lookup_max < 0) lookup_min = lookup_max = 5;
    if (lookup_min < 0) lookup_min = lookup_max;
    if (lookup_max < 0) lookup_max = lookup_min;
    if (lookup_min > lookup_max) {
      return invalid_argument(source + ": prompt_lookup_min=" + std::to_string(lookup_min) +
                              " must be <= prompt_lookup_max=" + std::to_string(lookup_max));
    }
    if (k < 0) {
      return invalid_argument(source + ": num_speculative_tokens must be provided with speculative model unless the "
                              "draft model config contains an n_predict parameter.");
    }
    config.method = SpeculativeMethod::kNgram;
    config.num_speculative_tokens = k;
    config.prompt_lookup_min = lookup_min;
    config.prompt_lookup_max = lookup_max;
    return config;
  }
  if (method == "draft_model") {
    if (k < 0) {
      return invalid_argument(source + ": A speculative model was provided, but `num_speculative_tokens` was not "
                              "provided");
    }
    config.method = SpeculativeMethod::kDraftModel;
    config.num_speculative_tokens = k;
    config.draft_model = model;
    return config;
  }
  return invalid_argument(source + ": speculative method '" + method +
                          "' is not supported by podserve (it needs trained draft heads or a GPU proposer); the "
                          "supported methods are ngram and draft_model");
}

Result<std::string> assemble_g1_speculative_config(const std::map<std::string, std::string>& fields) {
  auto get = [&](const char* name) -> std::string {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  };
  // Numbers: int(value) or None, so "0" (the Hub's default) counts as unset.
  auto number = [&](const char* name, int64_t* out) -> Status {
    *out = 0;
    const std::string v = get(name);
    if (v.empty()) return ok_status();
    if (!parse_number(v, out)) return invalid_argument("Invalid value '" + v + "' for " + name + ": expected an integer");
    return ok_status();
  };
  const std::string method = get("SPECULATIVE_METHOD"), model = get("SPECULATIVE_MODEL");
  int64_t k = 0, lookup_max = 0, lookup_min = 0, draft_tp = 0, max_len = 0;
  PODSERVE_RETURN_IF_ERROR(number("NUM_SPECULATIVE_TOKENS", &k));
  PODSERVE_RETURN_IF_ERROR(number("NGRAM_PROMPT_LOOKUP_MAX", &lookup_max));
  PODSERVE_RETURN_IF_ERROR(number("NGRAM_PROMPT_LOOKUP_MIN", &lookup_min));
  if (method.empty() && model.empty() && lookup_max == 0) return std::string();
  json::object c;
  if (!method.empty()) {
    c["method"] = method;
  } else if (lookup_max != 0 && model.empty()) {
    c["method"] = "ngram";
  } else {
    c["method"] = contains(model, "eagle3") ? "eagle3"
                  : contains(model, "eagle") ? "eagle"
                  : contains(model, "medusa") ? "medusa"
                                              : "draft_model";
  }
  if (!model.empty()) c["model"] = model;
  if (k != 0) c["num_speculative_tokens"] = k;
  if (lookup_max != 0) c["prompt_lookup_max"] = lookup_max;
  if (lookup_min != 0) c["prompt_lookup_min"] = lookup_min;
  // The worker passes these whenever set, so its Hub default "0" would fail vLLM's ge=1 check; podserve reads 0
  // as unset, as the worker's table documents it.
  PODSERVE_RETURN_IF_ERROR(number("SPECULATIVE_DRAFT_TENSOR_PARALLEL_SIZE", &draft_tp));
  if (draft_tp != 0) c["draft_tensor_parallel_size"] = draft_tp;
  PODSERVE_RETURN_IF_ERROR(number("SPECULATIVE_MAX_MODEL_LEN", &max_len));
  if (max_len != 0) c["max_model_len"] = max_len;
  if (!get("SPECULATIVE_QUANTIZATION").empty()) c["quantization"] = get("SPECULATIVE_QUANTIZATION");
  if (!get("SPECULATIVE_MODEL_REVISION").empty()) c["revision"] = get("SPECULATIVE_MODEL_REVISION");
  if (!get("SPECULATIVE_ENFORCE_EAGER").empty()) {
    std::string lower = get("SPECULATIVE_ENFORCE_EAGER");
    for (char& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    c["enforce_eager"] = lower == "true";
  }
  return json::serialize(c);
}

}  // namespace podserve
