#include "model/hf_config.h"

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace podserve {
namespace json = boost::json;
namespace {

Result<json::object> read_json_object(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.size() > (64u << 20)) return data_loss("'" + path + "' is larger than 64 MiB");
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return data_loss("'" + path + "' is not valid JSON: " + ec.message());
  if (!v.is_object()) return data_loss("'" + path + "' is not a JSON object");
  return std::move(v.as_object());
}

// Typed field readers: absent or null -> fallback; present with the wrong type or out of range -> error.
class Fields {
 public:
  Fields(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}
  bool has(const char* key) const {
    const json::value* v = o_.if_contains(key);
    return v != nullptr && !v->is_null();
  }
  const json::value* get(const char* key) const {
    const json::value* v = o_.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  Result<int> integer(const char* key, int fallback, int lo, int hi) const {
    const json::value* v = get(key);
    if (v == nullptr) {
      if (fallback < lo) return data_loss(where_ + " is missing '" + key + "'");
      return fallback;
    }
    int64_t x;
    if (v->is_int64()) x = v->as_int64();
    else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(hi)) x = static_cast<int64_t>(v->as_uint64());
    else if (v->is_double() && std::floor(v->as_double()) == v->as_double() && std::fabs(v->as_double()) < 1e15) x = static_cast<int64_t>(v->as_double());
    else return data_loss(where_ + ": '" + key + "' must be an integer");
    if (x < lo || x > hi) {
      return data_loss(where_ + ": '" + key + "' = " + std::to_string(x) + " is out of range (" + std::to_string(lo) +
                       ".." + std::to_string(hi) + ")");
    }
    return static_cast<int>(x);
  }
  Result<double> number(const char* key, double fallback, double lo, double hi) const {
    const json::value* v = get(key);
    if (v == nullptr) return fallback;
    double x;
    if (v->is_double()) x = v->as_double();
    else if (v->is_int64()) x = static_cast<double>(v->as_int64());
    else if (v->is_uint64()) x = static_cast<double>(v->as_uint64());
    else return data_loss(where_ + ": '" + key + "' must be a number");
    if (!(x >= lo && x <= hi)) return data_loss(where_ + ": '" + key + "' = " + std::to_string(x) + " is out of range");
    return x;
  }
  Result<bool> boolean(const char* key, bool fallback) const {
    const json::value* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_bool()) return data_loss(where_ + ": '" + key + "' must be true or false");
    return v->as_bool();
  }
  Result<std::string> string(const char* key, const std::string& fallback) const {
    const json::value* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) return data_loss(where_ + ": '" + key + "' must be a string");
    return std::string(v->as_string());
  }

 private:
  const json::object& o_;
  std::string where_;
};

Result<RopeParams> read_rope(const json::object* scaling, double theta, const std::string& where) {
  RopeParams p;
  p.theta = theta;
  if (scaling == nullptr) return p;
  Fields f(*scaling, where);
  PODSERVE_ASSIGN_OR_RETURN(p.theta, f.number("rope_theta", theta, 1e-3, 1e12));
  PODSERVE_ASSIGN_OR_RETURN(std::string type, f.string("rope_type", ""));
  if (type.empty()) {
    PODSERVE_ASSIGN_OR_RETURN(type, f.string("type", "default"));
  }
  if (type == "default") p.type = RopeType::kDefault;
  else if (type == "linear") p.type = RopeType::kLinear;
  else if (type == "dynamic") p.type = RopeType::kDynamic;
  else if (type == "yarn") p.type = RopeType::kYarn;
  else if (type == "llama3") p.type = RopeType::kLlama3;
  else return unimplemented(where + ": rope type '" + type + "' is not supported (supported: default, linear, dynamic, yarn, llama3)");
  const bool needs_factor = p.type != RopeType::kDefault;
  PODSERVE_ASSIGN_OR_RETURN(p.factor, f.number("factor", needs_factor ? -1.0 : 1.0, -1.0, 1e6));
  if (needs_factor && !(p.factor >= 1.0)) return data_loss(where + ": rope scaling needs a 'factor' >= 1");
  PODSERVE_ASSIGN_OR_RETURN(p.low_freq_factor, f.number("low_freq_factor", 1.0, 1e-6, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.high_freq_factor, f.number("high_freq_factor", 4.0, 1e-6, 1e6));
  if (p.type == RopeType::kLlama3 && !(p.high_freq_factor > p.low_freq_factor)) {
    return data_loss(where + ": llama3 rope needs high_freq_factor > low_freq_factor");
  }
  PODSERVE_ASSIGN_OR_RETURN(p.original_max_pos, f.number("original_max_position_embeddings", 0.0, 0.0, 1e9));
  if (p.type == RopeType::kLlama3 && p.original_max_pos <= 0) return data_loss(where + ": llama3 rope needs original_max_position_embeddings");
  PODSERVE_ASSIGN_OR_RETURN(p.beta_fast, f.number("beta_fast", 32.0, 1e-6, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.beta_slow, f.number("beta_slow", 1.0, 1e-6, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.attention_factor, f.number("attention_factor", 0.0, 0.0, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.mscale, f.number("mscale", 0.0, 0.0, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.mscale_all_dim, f.number("mscale_all_dim", 0.0, 0.0, 1e6));
  PODSERVE_ASSIGN_OR_RETURN(p.truncate, f.boolean("truncate", true));
  return p;
}

const json::object* object_or_null(const json::value* v) { return v != nullptr && v->is_object() ? &v->as_object() : nullptr; }

Result<std::vector<int32_t>> read_ids(const json::value* v, const std::string& where) {
  std::vector<int32_t> ids;
  if (v == nullptr || v->is_null()) return ids;
  auto one = [&](const json::value& x) -> Status {
    if (!x.is_int64() || x.as_int64() < 0 || x.as_int64() > (1 << 30)) return data_loss(where + ": token ids must be non-negative integers");
    ids.push_back(static_cast<int32_t>(x.as_int64()));
    return ok_status();
  };
  if (v->is_array()) {
    if (v->as_array().size() > 1024) return data_loss(where + ": too many token ids");
    for (const json::value& x : v->as_array()) PODSERVE_RETURN_IF_ERROR(one(x));
  } else {
    PODSERVE_RETURN_IF_ERROR(one(*v));
  }
  return ids;
}

}  // namespace

Result<HfConfig> read_hf_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  PODSERVE_ASSIGN_OR_RETURN(json::object root, read_json_object(path));
  // Multimodal wrappers keep the language model's fields under text_config.
  const json::object* text = object_or_null(root.if_contains("text_config"));
  const json::object& o = text != nullptr ? *text : root;
  Fields f(o, "'" + path + "'");
  HfConfig h;
  ModelConfig& c = h.model;
  PODSERVE_ASSIGN_OR_RETURN(c.architecture, Fields(root, path).string("model_type", ""));
  if (c.architecture.empty()) return data_loss("'" + path + "' has no 'model_type'");
  for (const Fields& where : {Fields(root, path), f}) {  // the wrapper's own precision first
    if (!h.torch_dtype.empty()) break;
    PODSERVE_ASSIGN_OR_RETURN(h.torch_dtype, where.string("dtype", ""));
    if (h.torch_dtype.empty()) {
      PODSERVE_ASSIGN_OR_RETURN(h.torch_dtype, where.string("torch_dtype", ""));
    }
  }
  PODSERVE_ASSIGN_OR_RETURN(c.n_layers, f.integer("num_hidden_layers", -1, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.hidden, f.integer("hidden_size", -1, 1, 1 << 16));
  PODSERVE_ASSIGN_OR_RETURN(c.n_heads, f.integer("num_attention_heads", -1, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.n_kv_heads, f.integer("num_key_value_heads", c.n_heads, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.head_dim, f.integer("head_dim", c.hidden / c.n_heads, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.ffn_hidden, f.integer("intermediate_size", -1, 1, 1 << 20));
  PODSERVE_ASSIGN_OR_RETURN(c.vocab_size, f.integer("vocab_size", -1, 1, 1 << 24));
  PODSERVE_ASSIGN_OR_RETURN(h.max_position_embeddings, f.integer("max_position_embeddings", 2048, 1, 1 << 24));
  c.context_length = h.max_position_embeddings;
  PODSERVE_ASSIGN_OR_RETURN(double eps, f.number("rms_norm_eps", 1e-6, 1e-12, 1.0));
  c.rms_eps = static_cast<float>(eps);
  PODSERVE_ASSIGN_OR_RETURN(c.tied_embeddings, Fields(root, path).boolean("tie_word_embeddings", false));
  if (text != nullptr && !root.contains("tie_word_embeddings")) {
    PODSERVE_ASSIGN_OR_RETURN(c.tied_embeddings, f.boolean("tie_word_embeddings", false));
  }
  if (c.n_heads % c.n_kv_heads != 0) return data_loss("'" + path + "': num_attention_heads must be a multiple of num_key_value_heads");
  if (c.head_dim % 2 != 0) return data_loss("'" + path + "': head_dim must be even");

  PODSERVE_ASSIGN_OR_RETURN(std::string act, f.string("hidden_activation", ""));
  if (act.empty()) {
    PODSERVE_ASSIGN_OR_RETURN(act, f.string("hidden_act", "silu"));
  }
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") act = "gelu_pytorch_tanh";
  h.activation = act;
  PODSERVE_ASSIGN_OR_RETURN(h.attention_bias, f.boolean("attention_bias", false));
  PODSERVE_ASSIGN_OR_RETURN(h.mlp_bias, f.boolean("mlp_bias", false));
  PODSERVE_ASSIGN_OR_RETURN(h.query_pre_attn_scalar, f.number("query_pre_attn_scalar", 0.0, 0.0, 1e9));
  PODSERVE_ASSIGN_OR_RETURN(h.attn_softcap, f.number("attn_logit_softcapping", 0.0, 0.0, 1e9));
  PODSERVE_ASSIGN_OR_RETURN(h.final_softcap, f.number("final_logit_softcapping", 0.0, 0.0, 1e9));
  PODSERVE_ASSIGN_OR_RETURN(h.n_experts, f.integer("num_local_experts", 0, 0, 1024));
  PODSERVE_ASSIGN_OR_RETURN(h.experts_per_tok, f.integer("num_experts_per_tok", 0, 0, 1024));
  if (h.n_experts > 0 && (h.experts_per_tok < 1 || h.experts_per_tok > h.n_experts)) {
    return data_loss("'" + path + "': num_experts_per_tok must be in 1..num_local_experts");
  }

  // RoPE: v5 rope_parameters (possibly per layer type), else v4 rope_theta + rope_scaling.
  PODSERVE_ASSIGN_OR_RETURN(double theta, f.number("rope_theta", 10000.0, 1e-3, 1e12));
  const json::object* params = object_or_null(o.if_contains("rope_parameters"));
  if (params == nullptr) params = object_or_null(o.if_contains("rope_scaling"));
  const json::object* full = params, *local = params;
  if (params != nullptr && (params->contains("full_attention") || params->contains("sliding_attention"))) {
    full = object_or_null(params->if_contains("full_attention"));
    local = object_or_null(params->if_contains("sliding_attention"));
    if (local == nullptr) local = full;
  }
  PODSERVE_ASSIGN_OR_RETURN(h.rope, read_rope(full, theta, "'" + path + "' rope parameters"));
  // Gemma 3 configs of v4 give the local base separately.
  PODSERVE_ASSIGN_OR_RETURN(double local_theta, f.number("rope_local_base_freq", h.rope.theta, 1e-3, 1e12));
  if (local == full && f.has("rope_local_base_freq")) {
    h.rope_local = RopeParams{};
    h.rope_local.theta = local_theta;
  } else {
    PODSERVE_ASSIGN_OR_RETURN(h.rope_local, read_rope(local, theta, "'" + path + "' rope parameters"));
  }
  PODSERVE_ASSIGN_OR_RETURN(h.partial_rotary_factor, f.number("partial_rotary_factor", 1.0, 0.0, 1.0));
  if (params != nullptr && params == full) {
    PODSERVE_ASSIGN_OR_RETURN(h.partial_rotary_factor, Fields(*params, path).number("partial_rotary_factor", h.partial_rotary_factor, 0.0, 1.0));
  }
  c.rope_theta = static_cast<float>(h.rope.theta);
  c.rope_dim = static_cast<int>(c.head_dim * h.partial_rotary_factor) / 2 * 2;
  if (c.rope_dim <= 0) return data_loss("'" + path + "': partial_rotary_factor leaves no rotary dimensions");

  // Sliding window: explicit layer_types win; else each architecture's rule (models.md §2.4).
  PODSERVE_ASSIGN_OR_RETURN(h.sliding_window, f.integer("sliding_window", 0, 0, 1 << 30));
  h.sliding.assign(c.n_layers, false);
  const std::string& type = c.architecture;
  if (const json::value* lt = f.get("layer_types")) {
    if (!lt->is_array() || lt->as_array().size() != static_cast<size_t>(c.n_layers)) {
      return data_loss("'" + path + "': layer_types must list one type per layer");
    }
    for (int i = 0; i < c.n_layers; ++i) {
      const json::value& t = lt->as_array()[i];
      if (!t.is_string() || (t.as_string() != "sliding_attention" && t.as_string() != "full_attention")) {
        return unimplemented("'" + path + "': layer type " + json::serialize(t) + " is not supported");
      }
      h.sliding[i] = t.as_string() == "sliding_attention";
    }
  } else if (type == "gemma2") {
    for (int i = 0; i < c.n_layers; ++i) h.sliding[i] = i % 2 == 0;
  } else if (type == "gemma3_text" || type == "gemma3") {
    PODSERVE_ASSIGN_OR_RETURN(int pattern, f.integer("sliding_window_pattern", 6, 1, 1 << 20));
    for (int i = 0; i < c.n_layers; ++i) h.sliding[i] = (i + 1) % pattern != 0;
  } else if (type == "qwen2" || type == "qwen3" || type == "qwen2_moe") {
    PODSERVE_ASSIGN_OR_RETURN(bool use, f.boolean("use_sliding_window", false));
    PODSERVE_ASSIGN_OR_RETURN(int max_window_layers, f.integer("max_window_layers", 0, 0, 1 << 20));
    for (int i = 0; i < c.n_layers; ++i) h.sliding[i] = use && i >= max_window_layers;
  } else {
    for (int i = 0; i < c.n_layers; ++i) h.sliding[i] = true;  // Mistral, Mixtral, Phi-3: every layer
  }
  if (h.sliding_window == 0) h.sliding.assign(c.n_layers, false);
  if ((type == "qwen2" || type == "qwen3") && !f.has("layer_types")) {
    PODSERVE_ASSIGN_OR_RETURN(bool use, f.boolean("use_sliding_window", false));
    if (!use) h.sliding.assign(c.n_layers, false);
  }

  PODSERVE_ASSIGN_OR_RETURN(c.eos_token_ids, read_ids(o.if_contains("eos_token_id"), path));
  const std::string gen_path = (std::filesystem::path(dir) / "generation_config.json").string();
  if (std::filesystem::exists(gen_path)) {
    PODSERVE_ASSIGN_OR_RETURN(json::object gen, read_json_object(gen_path));
    PODSERVE_ASSIGN_OR_RETURN(std::vector<int32_t> eos, read_ids(gen.if_contains("eos_token_id"), gen_path));
    if (!eos.empty()) c.eos_token_ids = std::move(eos);
  }
  return h;
}

std::vector<float> rope_inv_freq(const RopeParams& p, int rot_dim, int max_position_embeddings, float* attn_factor) {
  const int half = rot_dim / 2;
  std::vector<float> inv(half);
  const float base = static_cast<float>(p.theta);
  for (int i = 0; i < half; ++i) {
    // As torch: base ** (arange(0, dim, 2).float() / dim) in float32.
    inv[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rot_dim));
  }
  *attn_factor = 1.0f;
  const float factor = static_cast<float>(p.factor);
  switch (p.type) {
    case RopeType::kDefault:
    case RopeType::kDynamic:  // below max_position_embeddings HF's dynamic NTK is the default rope
      break;
    case RopeType::kLinear:
      for (float& f : inv) f /= factor;
      break;
    case RopeType::kLlama3: {
      const double omax = p.original_max_pos;
      const double low_wl = omax / p.low_freq_factor, high_wl = omax / p.high_freq_factor;
      for (float& f : inv) {
        const float wl = 2.0f * static_cast<float>(M_PI) / f;
        const float scaled = wl > low_wl ? f / factor : f;
        if (!(wl < high_wl) && !(wl > low_wl)) {
          const float s = static_cast<float>((omax / wl - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor));
          f = (1.0f - s) * scaled / factor + s * scaled;
        } else {
          f = scaled;
        }
      }
      break;
    }
    case RopeType::kYarn: {
      const double omax = p.original_max_pos > 0 ? p.original_max_pos : max_position_embeddings;
      auto get_mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
      if (p.attention_factor > 0) *attn_factor = static_cast<float>(p.attention_factor);
      else if (p.mscale > 0 && p.mscale_all_dim > 0) *attn_factor = static_cast<float>(get_mscale(p.factor, p.mscale) / get_mscale(p.factor, p.mscale_all_dim));
      else *attn_factor = static_cast<float>(get_mscale(p.factor, 1.0));
      auto corr_dim = [&](double rot) { return rot_dim * std::log(omax / (rot * 2 * M_PI)) / (2 * std::log(p.theta)); };
      double low = corr_dim(p.beta_fast), high = corr_dim(p.beta_slow);
      if (p.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, static_cast<double>(rot_dim - 1));
      if (low == high) high += 0.001;
      for (int i = 0; i < half; ++i) {
        const float ramp = std::clamp(static_cast<float>((i - low) / (high - low)), 0.0f, 1.0f);
        const float extrap = 1.0f - ramp;
        const float pos_freq = std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rot_dim));
        inv[i] = (1.0f / (factor * pos_freq)) * (1.0f - extrap) + (1.0f / pos_freq) * extrap;
      }
      break;
    }
  }
  for (size_t i = 0; i < inv.size() && i < p.freq_divisors.size(); ++i) inv[i] /= p.freq_divisors[i];
  return inv;
}

}  // namespace podserve
