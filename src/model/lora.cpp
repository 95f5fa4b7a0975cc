#include "model/lora.h"

#include <xxhash.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"
#include "kernels/ref/dequant.h"

namespace podserve {
namespace json = boost::json;
namespace {

constexpr const char* kModuleNames[kNumLoraModules] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"};

// (in, out) features of each module in a model of `c`.
std::pair<int64_t, int64_t> module_shape(const ModelConfig& c, int m) {
  const int64_t H = c.hidden, q = int64_t{c.n_heads} * c.head_dim, kv = c.kv_dim(), I = c.ffn_hidden;
  switch (static_cast<LoraModule>(m)) {
    case LoraModule::kQ: return {H, q};
    case LoraModule::kK:
    case LoraModule::kV: return {H, kv};
    case LoraModule::kO: return {q, H};
    case LoraModule::kGate:
    case LoraModule::kUp: return {H, I};
    case LoraModule::kDown: return {I, H};
  }
  return {0, 0};
}

// A module name an adapter may target and the decoder projections it covers. Phi-3's checkpoints fuse q|k|v and
// gate|up, so its adapters name the fused modules (vLLM maps those packed modules to themselves for Phi-3): one
// lora_A for the input, lora_B rows for each part in order, the same delta as one adapter per part sharing A.
struct TargetModule {
  std::string_view name;
  std::vector<int> parts;
};

std::vector<TargetModule> target_modules(const ModelConfig& c) {
  auto id = [](LoraModule m) { return static_cast<int>(m); };
  if (c.architecture == "phi3") {
    return {{"qkv_proj", {id(LoraModule::kQ), id(LoraModule::kK), id(LoraModule::kV)}},
            {"o_proj", {id(LoraModule::kO)}},
            {"gate_up_proj", {id(LoraModule::kGate), id(LoraModule::kUp)}},
            {"down_proj", {id(LoraModule::kDown)}}};
  }
  std::vector<TargetModule> out;
  for (int m = 0; m < kNumLoraModules; ++m) out.push_back({kModuleNames[m], {m}});
  return out;
}

std::string expected_modules(const std::vector<TargetModule>& targets) {
  std::string s = "[";
  for (size_t i = 0; i < targets.size(); ++i) s += std::string(i ? ", '" : "'") + std::string(targets[i].name) + "'";
  return s + "]";
}

// A PEFT tensor name "base_model.model.model.layers.<i>.(self_attn|mlp).<module>.lora_(A|B).weight".
struct TensorName {
  int layer = -1;
  std::string module;
  bool is_a = false;
};
bool parse_tensor_name(std::string_view name, TensorName* out) {
  constexpr std::string_view kPrefix = "base_model.model.model.layers.";
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  size_t digits = 0;
  int layer = 0;
  while (digits < name.size() && digits < 6 && name[digits] >= '0' && name[digits] <= '9') {
    layer = layer * 10 + (name[digits] - '0');
    ++digits;
  }
  if (digits == 0 || digits >= name.size() || name[digits] != '.') return false;
  name.remove_prefix(digits + 1);
  for (std::string_view block : {"self_attn.", "mlp."}) {
    if (name.starts_with(block)) name.remove_prefix(block.size());
  }
  for (auto [suffix, is_a] : {std::pair{".lora_A.weight", true}, std::pair{".lora_B.weight", false}}) {
    if (name.ends_with(suffix)) {
      out->layer = layer;
      out->module = std::string(name.substr(0, name.size() - std::string_view(suffix).size()));
      out->is_a = is_a;
      return !out->module.empty() && out->module.find('.') == std::string::npos;
    }
  }
  return false;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("No adapter found for " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (16u << 20)) return invalid_argument("'" + path + "' is larger than 16 MiB");
  return ss.str();
}

bool truthy(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() && !(v->is_bool() && !v->as_bool()) && !(v->is_array() && v->as_array().empty()) &&
         !(v->is_object() && v->as_object().empty()) && !(v->is_string() && v->as_string().empty());
}

Result<double> number(const json::object& o, const char* key, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  if (v->is_double()) return v->as_double();
  return invalid_argument(where + ": '" + key + "' must be a number");
}

// The rows of lora_B [out, r] of q_proj (k_proj: n_heads = the K/V heads) in the order of a model whose Q/K rows
// are interleaved for RoPE (ModelConfig::qk_rows_interleaved): row h·D + 2i + j <- Hugging Face's h·D + j·D/2 + i,
// llama.cpp's convert_hf_to_gguf.py permute(). lora_A is untouched: the permutation acts on the output rows only.
void interleave_rope_rows(std::vector<float>& b, int64_t n_heads, int64_t head_dim, int64_t rank) {
  const std::vector<float> hf = b;
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < n_heads * head_dim; ++r) {
    const int64_t head = r / head_dim, i = (r % head_dim) / 2, j = r % 2;
    std::copy_n(hf.data() + (head * head_dim + j * half + i) * rank, rank, b.data() + r * rank);
  }
}

}  // namespace

const char* lora_module_name(LoraModule m) { return kModuleNames[static_cast<int>(m)]; }

bool is_allowed_max_lora_rank(int rank) {
  for (int r : {1, 8, 16, 32, 64, 128, 256, 320, 512}) {
    if (rank == r) return true;
  }
  return false;
}

Result<std::shared_ptr<const LoraAdapter>> load_lora_adapter(const std::string& dir, const ModelConfig& config,
                                                             int max_lora_rank) {
  const std::string config_path = dir + "/adapter_config.json", weights_path = dir + "/adapter_model.safetensors";
  if (!std::filesystem::is_directory(dir)) return not_found("No adapter found for " + dir);
  PODSERVE_ASSIGN_OR_RETURN(std::string text, read_text(config_path));
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return invalid_argument("'" + config_path + "' is not a JSON object");
  const json::object& o = parsed.as_object();

  std::string missing;
  for (const char* key : {"r", "lora_alpha", "target_modules"}) {
    if (!o.contains(key)) missing += std::string(missing.empty() ? "" : ", ") + key;
  }
  if (!missing.empty()) return invalid_argument("Missing required configuration fields: " + missing);
  if (const json::value* t = o.if_contains("peft_type"); t && !(t->is_string() && t->as_string() == "LORA")) {
    return invalid_argument("'" + config_path + "': peft_type must be \"LORA\"");
  }
  PODSERVE_ASSIGN_OR_RETURN(double r_value, number(o, "r", config_path));
  PODSERVE_ASSIGN_OR_RETURN(double alpha, number(o, "lora_alpha", config_path));
  if (r_value < 1 || r_value > 4096 || r_value != std::floor(r_value)) {
    return invalid_argument("'" + config_path + "': r must be a positive integer");
  }
  const int rank = static_cast<int>(r_value);
  // vLLM gathers every refusal into one message, in this order.
  std::vector<std::string> errors;
  if (truthy(o, "modules_to_save")) errors.push_back("vLLM only supports modules_to_save being None.");
  if (truthy(o, "use_dora")) errors.push_back("vLLM does not yet support DoRA.");
  if (rank > max_lora_rank) {
    errors.push_back("LoRA rank " + std::to_string(rank) + " is greater than max_lora_rank " +
                     std::to_string(max_lora_rank) + ".");
  }
  const json::value* bias = o.if_contains("bias");
  if ((bias && !bias->is_null() && !(bias->is_string() && bias->as_string() == "none")) || truthy(o, "lora_bias")) {
    errors.push_back("Adapter bias cannot be used without bias_enabled.");
  }
  if (truthy(o, "rank_pattern") || truthy(o, "alpha_pattern")) {
    errors.push_back("rank_pattern and alpha_pattern (per-module ranks) are not supported by podserve yet.");
  }
  if (!errors.empty()) {
    std::string msg;
    for (const std::string& e : errors) msg += (msg.empty() ? "" : " ") + e;
    return invalid_argument(msg);
  }
  const bool rslora = truthy(o, "use_rslora");
  const float scale = static_cast<float>(rslora ? alpha / std::sqrt(r_value) : alpha / r_value);

  if (!std::filesystem::is_regular_file(weights_path)) {
    return not_found("No adapter found for " + dir + " (adapter_model.safetensors is missing)");
  }
  PODSERVE_ASSIGN_OR_RETURN(SafetensorsModel file, SafetensorsModel::open(weights_path));
  auto adapter = std::make_shared<LoraAdapter>();
  adapter->path = dir;
  adapter->rank = rank;
  adapter->layers.resize(config.n_layers);
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, text.data(), text.size());

  const std::vector<TargetModule> targets = target_modules(config);
  std::vector<std::string> unknown;
  for (const auto& [name, t] : file.tensors()) {
    XXH3_128bits_update(state, name.data(), name.size());
    XXH3_128bits_update(state, t.data, t.nbytes);
    TensorName tn;
    if (!parse_tensor_name(name, &tn)) {
      XXH3_freeState(state);
      return invalid_argument(name + " is unsupported LoRA weight");
    }
    std::vector<int> parts;  // the decoder projections this tensor covers
    for (const TargetModule& target : targets) {
      if (tn.module == target.name) parts = target.parts;
    }
    if (parts.empty()) {
      unknown.push_back(tn.module);
      continue;
    }
    if (tn.layer >= config.n_layers) {
      XXH3_freeState(state);
      return invalid_argument(name + ": layer " + std::to_string(tn.layer) + " but the model has " +
                              std::to_string(config.n_layers));
    }
    const int64_t in = module_shape(config, parts[0]).first;
    int64_t out = 0;
    for (int m : parts) out += module_shape(config, m).second;
    const std::vector<int64_t> want = tn.is_a ? std::vector<int64_t>{rank, in} : std::vector<int64_t>{out, rank};
    if (t.shape != want || (t.type != DType::kF32 && t.type != DType::kF16 && t.type != DType::kBF16)) {
      XXH3_freeState(state);
      return invalid_argument(name + ": expected a float tensor of shape [" + std::to_string(want[0]) + ", " +
                              std::to_string(want[1]) + "] (r = " + std::to_string(rank) + ")");
    }
    std::vector<float> values(static_cast<size_t>(want[0] * want[1]));
    dequantize_row_ref(t.type, t.data, values.data(), static_cast<int64_t>(values.size()));
    int64_t row = 0;  // lora_B: each part's rows in order; lora_A: the same matrix for every part
    for (int m : parts) {
      LoraWeights& w = adapter->layers[tn.layer][m];
      if (tn.is_a) {
        w.a = values;
        continue;
      }
      const int64_t rows = module_shape(config, m).second;
      w.b.assign(values.begin() + row * rank, values.begin() + (row + rows) * rank);
      row += rows;
      for (float& v : w.b) v *= scale;  // folded once here, as vLLM does
      if (config.qk_rows_interleaved && (m == static_cast<int>(LoraModule::kQ) || m == static_cast<int>(LoraModule::kK))) {
        interleave_rope_rows(w.b, m == static_cast<int>(LoraModule::kQ) ? config.n_heads : config.n_kv_heads,
                             config.head_dim, rank);
      }
    }
  }
  const XXH128_hash_t digest = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  adapter->weights_hash[0] = digest.low64;
  adapter->weights_hash[1] = digest.high64;
  if (!unknown.empty()) {
    std::string received = "[";
    for (size_t i = 0; i < unknown.size(); ++i) received += (i ? ", '" : "'") + unknown[i] + "'";
    return invalid_argument("While loading " + dir + ", expected target modules in " + expected_modules(targets) +
                            " but received " + received + "]. Please verify that the loaded LoRA module is correct");
  }
  bool any = false;
  for (int l = 0; l < config.n_layers; ++l) {
    for (int m = 0; m < kNumLoraModules; ++m) {
      LoraWeights& w = adapter->layers[l][m];
      if (w.a.empty() != w.b.empty()) {
        return invalid_argument("'" + weights_path + "': layer " + std::to_string(l) + " " + kModuleNames[m] +
                                " has only one of lora_A and lora_B");
      }
      w.rank = w.a.empty() ? 0 : rank;
      any |= w.rank > 0;
    }
  }
  if (!any) return invalid_argument("'" + weights_path + "' holds no LoRA weights");
  return std::shared_ptr<const LoraAdapter>(std::move(adapter));
}

bool lora_wraps(const ForwardBatch& batch, int layer, LoraModule m) {
  if (batch.lora_slot.empty()) return false;
  for (const LoraAdapter* a : batch.loras) {
    if (a->at(layer, m).rank > 0) return true;
  }
  return false;
}

void add_lora(const ForwardBatch& batch, int layer, LoraModule m, const float* x, int64_t in, float* y, int64_t out,
              std::vector<kernels::LoraPair>& pairs, ThreadPool* pool) {
  if (!lora_wraps(batch, layer, m)) return;
  pairs.clear();
  for (const LoraAdapter* a : batch.loras) pairs.push_back(lora_pair(*a, layer, m));
  kernels::cpu::lora_bgmv(pairs.data(), batch.lora_slot.data(), x, in, y, out,
                          static_cast<int64_t>(batch.tokens.size()), pool);
}

}  // namespace podserve
