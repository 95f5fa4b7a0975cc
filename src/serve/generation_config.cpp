#include "serve/generation_config.h"

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace podserve {
namespace json = boost::json;
namespace {

// vLLM's available_params, in its order (the log line's order).
constexpr const char* kKeys[] = {"repetition_penalty", "presence_penalty", "frequency_penalty", "temperature",
                                 "top_k",              "top_p",            "min_p",             "max_new_tokens"};

Result<json::object> read_object(const std::string& path, const std::string& source) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(source + ": cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return invalid_argument(source + ": '" + path + "' is not a JSON object");
  return std::move(v.as_object());
}

/// Python's repr of the number: 0.6, 1.0, 1e-05, 12.
std::string python_repr(const json::value& v) {
  if (!v.is_double()) return json::serialize(v);
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.get_double());
  std::string s(buf, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

Status bad(const std::string& source, const std::string& key, const std::string& what) {
  return invalid_argument(source + ": " + key + " " + what);
}

/// One key's value, with the range vLLM's SamplingParams checks.
Status set_value(GenerationDefaults* d, const std::string& key, const json::value& v, const std::string& source) {
  if (!v.is_number()) return bad(source, key, "must be a number, got " + json::serialize(v));
  const double x = v.to_number<double>();
  auto check = [&](bool ok, const char* range) { return ok ? ok_status() : bad(source, key, range); };
  if (key == "max_new_tokens" || key == "top_k") {
    if (!v.is_int64() && !v.is_uint64()) return bad(source, key, "must be an integer, got " + json::serialize(v));
    if (key == "top_k") {
      PODSERVE_RETURN_IF_ERROR(check(x >= -1 && x <= 1e9, "must be -1 or 0 (disable), or at least 1"));
      d->top_k = x < 0 ? 0 : static_cast<int>(x);
    } else {
      PODSERVE_RETURN_IF_ERROR(check(x >= 1 && x <= 1e12, "must be at least 1"));
      d->max_tokens = static_cast<int64_t>(x);
    }
    return ok_status();
  }
  const auto f = static_cast<float>(x);
  if (key == "temperature") {
    PODSERVE_RETURN_IF_ERROR(check(x >= 0, "must be non-negative"));
    d->temperature = f;
  } else if (key == "top_p") {
    PODSERVE_RETURN_IF_ERROR(check(x > 0 && x <= 1, "must be in (0, 1]"));
    d->top_p = f;
  } else if (key == "min_p") {
    PODSERVE_RETURN_IF_ERROR(check(x >= 0 && x <= 1, "must be in [0, 1]"));
    d->min_p = f;
  } else if (key == "repetition_penalty") {
    PODSERVE_RETURN_IF_ERROR(check(x > 0, "must be greater than zero"));
    d->repetition_penalty = f;
  } else {
    PODSERVE_RETURN_IF_ERROR(check(x >= -2 && x <= 2, "must be in [-2, 2]"));
    (key == "presence_penalty" ? d->presence_penalty : d->frequency_penalty) = f;
  }
  return ok_status();
}

/// eos_token_id as transformers reads it: absent or null, one id, or a list of ids.
Status read_eos_ids(const json::object& file, const std::string& source, std::vector<int32_t>* out) {
  const json::value* v = file.if_contains("eos_token_id");
  if (v == nullptr || v->is_null()) return ok_status();
  const auto add = [&](const json::value& id) {
    if (!id.is_int64() || id.get_int64() < 0 || id.get_int64() > INT32_MAX) {
      return bad(source, "eos_token_id", "must be a token id or a list of them, got " + json::serialize(*v));
    }
    out->push_back(static_cast<int32_t>(id.get_int64()));
    return ok_status();
  };
  if (v->is_array()) {
    for (const json::value& id : v->get_array()) PODSERVE_RETURN_IF_ERROR(add(id));
  } else {
    PODSERVE_RETURN_IF_ERROR(add(*v));
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return ok_status();
}

}  // namespace

void GenerationDefaults::apply_to(SamplingParams* p) const {
  if (repetition_penalty) p->repetition_penalty = *repetition_penalty;
  if (presence_penalty) p->presence_penalty = *presence_penalty;
  if (frequency_penalty) p->frequency_penalty = *frequency_penalty;
  if (temperature) p->temperature = *temperature;
  if (top_k) p->top_k = *top_k;
  if (top_p) p->top_p = *top_p;
  if (min_p) p->min_p = *min_p;
}

Result<GenerationDefaults> load_generation_defaults(const std::string& mode, const std::string& override_json,
                                                    const std::string& model_path) {
  // vLLM's try_get_generation_config: the folder's generation_config.json (auto and vllm: the model's folder; a
  // GGUF file has none beside it), else the eos_token_id of the folder's config.json
  // (GenerationConfig.from_model_config, which holds no sampling keys). Its sampling keys are defaults except under
  // vllm; its eos_token_id counts under every mode.
  json::object config;
  GenerationDefaults d;
  std::string file_source = "GENERATION_CONFIG";
  const bool folder_mode = mode != "auto" && mode != "vllm";
  const std::filesystem::path dir = folder_mode ? std::filesystem::path(mode) : std::filesystem::path(model_path);
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    const std::filesystem::path file = dir / "generation_config.json";
    const std::filesystem::path model_config = dir / "config.json";
    if (std::filesystem::exists(file, ec)) {
      PODSERVE_ASSIGN_OR_RETURN(config, read_object(file.string(), file_source));
      file_source += " (" + file.string() + ")";
      PODSERVE_RETURN_IF_ERROR(read_eos_ids(config, file_source, &d.eos_token_ids));
      if (mode == "vllm") config.clear();
    } else if (std::filesystem::exists(model_config, ec)) {
      const std::string source = file_source + " (" + model_config.string() + ")";
      PODSERVE_ASSIGN_OR_RETURN(json::object model, read_object(model_config.string(), source));
      PODSERVE_RETURN_IF_ERROR(read_eos_ids(model, source, &d.eos_token_ids));
    }
  }
  json::object overrides;
  if (!override_json.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(override_json, ec);
    if (ec || !v.is_object()) return invalid_argument("OVERRIDE_GENERATION_CONFIG: not a JSON object");
    overrides = std::move(v.as_object());
  }
  for (const auto& kv : overrides) config[kv.key()] = kv.value();  // config.update(override_generation_config)

  for (const char* key : kKeys) {
    const json::value* v = config.if_contains(key);
    if (v == nullptr || v->is_null()) continue;  // vLLM keeps the keys that are not None
    const std::string source = overrides.contains(key) ? std::string("OVERRIDE_GENERATION_CONFIG") : file_source;
    PODSERVE_RETURN_IF_ERROR(set_value(&d, key, *v, source));
    const std::string name = std::string(key) == "max_new_tokens" ? "max_tokens" : key;
    d.log_dict += (d.log_dict.empty() ? "{'" : ", '") + name + "': " + python_repr(*v);
  }
  if (!d.log_dict.empty()) d.log_dict += "}";
  // vLLM's override_max_tokens.
  if (mode != "auto" && mode != "vllm") {
    d.max_tokens_cap = d.max_tokens;
  } else if (const json::value* v = overrides.if_contains("max_new_tokens"); v != nullptr && !v->is_null()) {
    d.max_tokens_cap = d.max_tokens;
  }
  return d;
}

}  // namespace podserve
