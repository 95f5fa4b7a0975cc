// GGUF files of the architectures the shared decoder runs, as llama.cpp's convert_hf_to_gguf.py writes them:
// `{arch}.*` metadata -> HfConfig and llama.cpp's tensor names -> DecoderWeights. What the converter changed is
// undone or taken as stored: Gemma norm weights already hold 1 + w; Llama-arch (Mixtral) Q/K rows are permuted
// for interleaved RoPE and are put back in Hugging Face order; Mixtral's experts are 3-D tensors, one slice per
// expert; Phi-3 keeps its fused qkv and gate|up tensors. Keys the converter omits get llama.cpp's defaults
// (Gemma 3: every 6th layer global, local rope base 10000; Gemma 2/3: attention scale 1/sqrt(head_dim), 27B
// excepted), and the file's keys win when present.
#include <cmath>
#include <cstring>

#include "kernels/ref/dequant.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace podserve {
namespace {

class Meta {
 public:
  Meta(const GgufFile& f, std::string arch) : f_(f), p_(std::move(arch) + ".") {}

  bool has(const std::string& key) const { return f_.has(p_ + key); }

  // An integer in [lo, hi]; absent -> fallback (an error when fallback < lo).
  Result<int> integer(const std::string& key, int fallback, int lo, int hi) const {
    const std::string k = p_ + key;
    if (!f_.has(k)) {
      if (fallback < lo) return data_loss("model file is missing '" + k + "'");
      return fallback;
    }
    PODSERVE_ASSIGN_OR_RETURN(int64_t v, f_.get_int(k));
    if (v < lo || v > hi) {
      return data_loss("'" + k + "' = " + std::to_string(v) + " is out of range (" + std::to_string(lo) + ".." +
                       std::to_string(hi) + ")");
    }
    return static_cast<int>(v);
  }

  // A number in (lo, hi]; absent -> fallback.
  Result<double> number(const std::string& key, double fallback, double lo, double hi) const {
    const std::string k = p_ + key;
    if (!f_.has(k)) return fallback;
    PODSERVE_ASSIGN_OR_RETURN(double v, f_.get_float(k));
    if (!(v > lo && v <= hi)) return data_loss("'" + k + "' = " + std::to_string(v) + " is out of range");
    return v;
  }

  // Per layer: sliding-window attention? The key holds one bool per layer, or a period n (layer i is sliding
  // unless i % n == n - 1, llama.cpp's set_swa_pattern); absent -> the period `fallback`.
  Result<std::vector<bool>> sliding_pattern(int n_layers, int fallback) const {
    const std::string k = p_ + "attention.sliding_window_pattern";
    std::vector<bool> out(n_layers);
    const GgufValue* v = f_.find(k);
    int period = fallback;
    if (v != nullptr) {
      if (const auto* arr = std::get_if<std::shared_ptr<GgufValue::Array>>(&v->v)) {
        if (*arr == nullptr || (*arr)->size() != static_cast<size_t>(n_layers)) {
          return data_loss("'" + k + "' must list one value per layer");
        }
        for (int i = 0; i < n_layers; ++i) {
          const auto& e = (**arr)[i].v;
          if (const bool* b = std::get_if<bool>(&e)) out[i] = *b;
          else if (const int64_t* s = std::get_if<int64_t>(&e)) out[i] = *s != 0;
          else if (const uint64_t* u = std::get_if<uint64_t>(&e)) out[i] = *u != 0;
          else return data_loss("'" + k + "' must hold booleans");
        }
        return out;
      }
      PODSERVE_ASSIGN_OR_RETURN(period, integer("attention.sliding_window_pattern", 0, 1, 1 << 20));
    }
    for (int i = 0; i < n_layers; ++i) out[i] = i % period < period - 1;
    return out;
  }

 private:
  const GgufFile& f_;
  std::string p_;
};

Result<RopeParams> read_rope(const GgufFile& f, const Meta& m, const std::string& arch, double theta) {
  RopeParams r;
  r.theta = theta;
  const std::string key = arch + ".rope.scaling.type";
  if (!f.has(key)) return r;
  PODSERVE_ASSIGN_OR_RETURN(std::string type, f.get_string(key));
  if (type == "none") return r;
  PODSERVE_ASSIGN_OR_RETURN(r.factor, m.number("rope.scaling.factor", -1.0, 0.0, 1e6));
  if (!(r.factor >= 1.0)) return data_loss("'" + arch + ".rope.scaling.factor' must be >= 1");
  if (type == "linear") {
    r.type = RopeType::kLinear;
  } else if (type == "yarn") {
    r.type = RopeType::kYarn;
    PODSERVE_ASSIGN_OR_RETURN(r.original_max_pos, m.number("rope.scaling.original_context_length", 0.0, 0.0, 1e9));
  } else {
    return unimplemented("rope scaling '" + type + "' is not supported for GGUF " + arch + " (supported: none, linear, yarn)");
  }
  return r;
}

Result<HfConfig> read_gguf_config(const GgufFile& f, const std::string& arch) {
  HfConfig h;
  ModelConfig& c = h.model;
  const Meta m(f, arch);
  c.architecture = arch;
  PODSERVE_ASSIGN_OR_RETURN(c.n_layers, m.integer("block_count", -1, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.hidden, m.integer("embedding_length", -1, 1, 1 << 16));
  PODSERVE_ASSIGN_OR_RETURN(c.n_heads, m.integer("attention.head_count", -1, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.n_kv_heads, m.integer("attention.head_count_kv", c.n_heads, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.ffn_hidden, m.integer("feed_forward_length", -1, 1, 1 << 18));
  PODSERVE_ASSIGN_OR_RETURN(c.context_length, m.integer("context_length", 2048, 1, 1 << 24));
  PODSERVE_ASSIGN_OR_RETURN(c.head_dim, m.integer("attention.key_length", c.hidden / c.n_heads, 2, 1024));
  PODSERVE_ASSIGN_OR_RETURN(int value_dim, m.integer("attention.value_length", c.head_dim, 1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.rope_dim, m.integer("rope.dimension_count", c.head_dim, 2, c.head_dim));
  if (value_dim != c.head_dim) return unimplemented(arch + ": attention.value_length differs from key_length");
  if (c.n_heads % c.n_kv_heads != 0) return data_loss(arch + ": head_count must be a multiple of head_count_kv");
  if (c.head_dim % 2 != 0 || c.rope_dim % 2 != 0) return data_loss(arch + ": head and rope dimensions must be even");
  PODSERVE_ASSIGN_OR_RETURN(double eps, m.number("attention.layer_norm_rms_epsilon", 1e-5, 0.0, 1.0));
  c.rms_eps = static_cast<float>(eps);
  h.max_position_embeddings = c.context_length;

  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) return data_loss("model file is missing tensor 'token_embd.weight'");
  if (embd->dims[1] < 1 || embd->dims[1] > (1 << 24)) return data_loss("token_embd.weight has an unusable row count");
  c.vocab_size = static_cast<int>(embd->dims[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;

  const bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
  h.activation = gemma ? "gelu_pytorch_tanh" : "silu";
  PODSERVE_ASSIGN_OR_RETURN(double theta, m.number("rope.freq_base", 10000.0, 0.0, 1e12));
  PODSERVE_ASSIGN_OR_RETURN(h.rope, read_rope(f, m, arch, theta));
  h.rope_local = h.rope;
  if (arch == "gemma3") {  // rope scaling applies to global layers; local layers have their own base
    h.rope_local = RopeParams{};
    PODSERVE_ASSIGN_OR_RETURN(h.rope_local.theta, m.number("rope.freq_base_swa", 10000.0, 0.0, 1e12));
  }

  PODSERVE_ASSIGN_OR_RETURN(h.sliding_window, m.integer("attention.sliding_window", 0, 0, 1 << 24));
  h.sliding.assign(c.n_layers, false);
  if (arch == "gemma2") {
    PODSERVE_ASSIGN_OR_RETURN(h.sliding, m.sliding_pattern(c.n_layers, 2));
  } else if (arch == "gemma3") {
    PODSERVE_ASSIGN_OR_RETURN(h.sliding, m.sliding_pattern(c.n_layers, 6));
  } else if (arch == "phi3") {
    h.sliding.assign(c.n_layers, true);  // window 0 (the converter's "none") turns it off below
  }
  if (h.sliding_window == 0) h.sliding.assign(c.n_layers, false);

  if (m.has("attention.scale")) {
    PODSERVE_ASSIGN_OR_RETURN(double scale, m.number("attention.scale", 0.0, 0.0, 1e3));
    h.query_pre_attn_scalar = 1.0 / (scale * scale);
  } else if ((arch == "gemma2" && c.n_layers == 46) || (arch == "gemma3" && c.n_layers == 62)) {
    h.query_pre_attn_scalar = static_cast<double>(c.hidden) / c.n_heads;  // the 27B models (llama.cpp, gemma_pytorch)
  }
  if (gemma) {
    PODSERVE_ASSIGN_OR_RETURN(h.attn_softcap, m.number("attn_logit_softcapping", 0.0, 0.0, 1e6));
    PODSERVE_ASSIGN_OR_RETURN(h.final_softcap, m.number("final_logit_softcapping", 0.0, 0.0, 1e6));
  }
  if (arch == "llama" && f.find_tensor("blk.0.ffn_gate_exps.weight") != nullptr) {
    PODSERVE_ASSIGN_OR_RETURN(h.n_experts, m.integer("expert_count", 0, 0, 1024));
    PODSERVE_ASSIGN_OR_RETURN(h.experts_per_tok, m.integer("expert_used_count", 0, 0, 1024));
    if (h.n_experts < 1 || h.experts_per_tok < 1 || h.experts_per_tok > h.n_experts) {
      return data_loss("llama.expert_count and llama.expert_used_count must satisfy 1 <= used <= count");
    }
  }
  return h;
}

class GgufBinder {
 public:
  GgufBinder(const GgufFile& f, DecoderWeights& out) : f_(f), out_(out) {}

  Result<kernels::MatrixView> matrix(const std::string& name, int64_t rows, int64_t cols) {
    return bind_matrix(f_, name, rows, cols);
  }

  // Q or K of a llama-arch file: rows permuted per head for interleaved RoPE ([h][i][2] <- HF's [h][2][i]) are
  // copied back into Hugging Face's order for the decoder's rotate_half RoPE. Whole rows move, so any type works.
  Result<kernels::MatrixView> unpermuted(const std::string& name, int64_t rows, int64_t cols, int64_t head_dim) {
    PODSERVE_ASSIGN_OR_RETURN(kernels::MatrixView m, bind_matrix(f_, name, rows, cols));
    const size_t rb = m.row_bytes();
    const int64_t half = head_dim / 2;
    std::vector<uint8_t> bytes(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t head = r / head_dim, j = (r % head_dim) / half, i = r % half;
      std::memcpy(bytes.data() + r * rb, m.row(head * head_dim + 2 * i + j), rb);
    }
    out_.owned.push_back(std::move(bytes));
    return kernels::MatrixView{m.type, out_.owned.back().data(), rows, cols};
  }

  // A 3-D tensor {cols, rows, n} of n stacked matrices (Mixtral's experts), one view per matrix.
  Result<std::vector<kernels::MatrixView>> stacked(const std::string& name, int64_t n, int64_t rows, int64_t cols) {
    const GgufTensor* t = f_.find_tensor(name);
    if (t == nullptr) return data_loss("model file is missing tensor '" + name + "'");
    if (t->dims != std::vector<int64_t>{cols, rows, n}) {
      return data_loss("tensor '" + name + "' has shape " + dims_string(*t) + ", expected {" + std::to_string(cols) +
                       ", " + std::to_string(rows) + ", " + std::to_string(n) + "}");
    }
    if (!kernels::matmul_supports(t->type)) {
      return unimplemented("tensor '" + name + "' has type " + dtype_name(t->type) + ", which matmul does not support");
    }
    const size_t bytes = t->row_bytes() * static_cast<size_t>(rows);
    if (bytes * static_cast<size_t>(n) != t->nbytes) return data_loss("tensor '" + name + "' has an unexpected byte size");
    std::vector<kernels::MatrixView> out;
    for (int64_t e = 0; e < n; ++e) out.push_back(kernels::MatrixView{t->type, t->data + e * bytes, rows, cols});
    return out;
  }

  // A float32 copy of a 1-D tensor of n elements (norm weights, biases; F32, F16 or BF16).
  Result<std::vector<float>> vector(const std::string& name, int64_t n) {
    const GgufTensor* t = f_.find_tensor(name);
    if (t == nullptr) return data_loss("model file is missing tensor '" + name + "'");
    if (t->dims.size() != 1 || t->dims[0] != n) {
      return data_loss("tensor '" + name + "' has shape " + dims_string(*t) + ", expected {" + std::to_string(n) + "}");
    }
    if (t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16) {
      return unimplemented("tensor '" + name + "' has type " + dtype_name(t->type) + "; vectors must be F32, F16 or BF16");
    }
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row_ref(t->type, t->data, v.data(), n);
    return v;
  }

  Result<std::vector<float>> optional_vector(const std::string& name, int64_t n) {
    if (f_.find_tensor(name) == nullptr) return std::vector<float>{};
    return vector(name, n);
  }

 private:
  const GgufFile& f_;
  DecoderWeights& out_;
};

Result<DecoderWeights> bind_gguf_weights(const DecoderSpec& spec, const HfConfig& config, const GgufFile& f) {
  const ModelConfig& c = config.model;
  DecoderWeights w;
  w.owned.reserve(static_cast<size_t>(c.n_layers) * 2 + 1);  // views point into these
  GgufBinder b(f, w);
  const bool permuted = c.architecture == "llama";
  const int64_t H = c.hidden, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim(), I = c.ffn_hidden;
  PODSERVE_ASSIGN_OR_RETURN(w.embedding, b.matrix("token_embd.weight", c.vocab_size, H));
  PODSERVE_ASSIGN_OR_RETURN(w.final_norm, b.vector("output_norm.weight", H));
  if (c.tied_embeddings) {
    w.output = w.embedding;
  } else {
    PODSERVE_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", c.vocab_size, H));
  }
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    DecoderLayer& l = w.layers[i];
    l.sliding = config.sliding[i];
    PODSERVE_ASSIGN_OR_RETURN(l.attn_norm, b.vector(p + "attn_norm.weight", H));
    PODSERVE_ASSIGN_OR_RETURN(l.ffn_norm, b.vector(p + "ffn_norm.weight", H));
    if (spec.sandwich_norms) {
      PODSERVE_ASSIGN_OR_RETURN(l.post_attn_norm, b.vector(p + "post_attention_norm.weight", H));
      PODSERVE_ASSIGN_OR_RETURN(l.post_ffn_norm, b.vector(p + "post_ffw_norm.weight", H));
    }
    if (spec.fused_qkv) {
      PODSERVE_ASSIGN_OR_RETURN(kernels::MatrixView qkv, b.matrix(p + "attn_qkv.weight", q_dim + 2 * kv_dim, H));
      split_fused_qkv(qkv, q_dim, kv_dim, l);
    } else if (permuted) {
      PODSERVE_ASSIGN_OR_RETURN(l.wq, b.unpermuted(p + "attn_q.weight", q_dim, H, c.head_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.wk, b.unpermuted(p + "attn_k.weight", kv_dim, H, c.head_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.wv, b.matrix(p + "attn_v.weight", kv_dim, H));
    } else {
      PODSERVE_ASSIGN_OR_RETURN(l.wq, b.matrix(p + "attn_q.weight", q_dim, H));
      PODSERVE_ASSIGN_OR_RETURN(l.wk, b.matrix(p + "attn_k.weight", kv_dim, H));
      PODSERVE_ASSIGN_OR_RETURN(l.wv, b.matrix(p + "attn_v.weight", kv_dim, H));
    }
    if (spec.qkv_bias) {  // Qwen2: required
      PODSERVE_ASSIGN_OR_RETURN(l.bq, b.vector(p + "attn_q.bias", q_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.bk, b.vector(p + "attn_k.bias", kv_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.bv, b.vector(p + "attn_v.bias", kv_dim));
    }
    PODSERVE_ASSIGN_OR_RETURN(l.wo, b.matrix(p + "attn_output.weight", H, q_dim));
    PODSERVE_ASSIGN_OR_RETURN(l.bo, b.optional_vector(p + "attn_output.bias", H));
    if (spec.qk_norm) {
      PODSERVE_ASSIGN_OR_RETURN(l.q_norm, b.vector(p + "attn_q_norm.weight", c.head_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.k_norm, b.vector(p + "attn_k_norm.weight", c.head_dim));
    }
    if (spec.moe) {
      const int64_t E = config.n_experts;
      PODSERVE_ASSIGN_OR_RETURN(l.router, b.matrix(p + "ffn_gate_inp.weight", E, H));
      PODSERVE_ASSIGN_OR_RETURN(std::vector<kernels::MatrixView> gate, b.stacked(p + "ffn_gate_exps.weight", E, I, H));
      PODSERVE_ASSIGN_OR_RETURN(std::vector<kernels::MatrixView> up, b.stacked(p + "ffn_up_exps.weight", E, I, H));
      PODSERVE_ASSIGN_OR_RETURN(std::vector<kernels::MatrixView> down, b.stacked(p + "ffn_down_exps.weight", E, H, I));
      l.experts.resize(E);
      for (int64_t e = 0; e < E; ++e) l.experts[e] = ExpertWeights{gate[e], up[e], down[e]};
    } else if (spec.fused_gate_up) {
      PODSERVE_ASSIGN_OR_RETURN(kernels::MatrixView gu, b.matrix(p + "ffn_up.weight", 2 * I, H));
      split_fused_gate_up(gu, I, l);
      PODSERVE_ASSIGN_OR_RETURN(l.down, b.matrix(p + "ffn_down.weight", H, I));
    } else {
      PODSERVE_ASSIGN_OR_RETURN(l.gate, b.matrix(p + "ffn_gate.weight", I, H));
      PODSERVE_ASSIGN_OR_RETURN(l.up, b.matrix(p + "ffn_up.weight", I, H));
      PODSERVE_ASSIGN_OR_RETURN(l.down, b.matrix(p + "ffn_down.weight", H, I));
    }
  }
  return w;
}

// What each GGUF architecture switches on (the HF counterparts are arch/*.cpp). Gemma norms are stored as 1 + w.
Result<DecoderSpec> spec_for(const std::string& arch, bool experts) {
  DecoderSpec s;
  if (arch == "qwen2") {
    s.qkv_bias = true;
  } else if (arch == "qwen3") {
    s.qk_norm = true;
  } else if (arch == "gemma" || arch == "gemma2" || arch == "gemma3") {
    s.embed_scale = true;
    s.sandwich_norms = arch != "gemma";
    s.qk_norm = arch == "gemma3";
  } else if (arch == "phi3") {
    s.fused_qkv = true;
    s.fused_gate_up = true;
  } else if (arch == "llama") {
    s.moe = experts;  // Mixtral; plain llama files run here on a device (the CPU takes arch/llama.cpp)
  } else {
    return unimplemented("GGUF architecture '" + arch + "' has no decoder layout");
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<CausalLm>> create_gguf_decoder(GgufFile file, const ComputeOptions& compute) {
  PODSERVE_ASSIGN_OR_RETURN(std::string arch, file.get_string("general.architecture"));
  PODSERVE_ASSIGN_OR_RETURN(DecoderSpec spec, spec_for(arch, file.find_tensor("blk.0.ffn_gate_exps.weight") != nullptr));
  for (const char* t : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
    if (file.find_tensor(t) != nullptr) return unimplemented("GGUF " + arch + " with '" + t + "' is not supported");
  }
  PODSERVE_ASSIGN_OR_RETURN(HfConfig config, read_gguf_config(file, arch));
  if (file.find_tensor("rope_freqs.weight") != nullptr) {  // llama3's per-frequency divisors (llama.cpp's rope_freqs)
    if (arch != "llama") return unimplemented("GGUF " + arch + " with 'rope_freqs.weight' is not supported");
    DecoderWeights unused;
    GgufBinder b(file, unused);
    PODSERVE_ASSIGN_OR_RETURN(config.rope.freq_divisors, b.vector("rope_freqs.weight", config.model.rope_dim / 2));
    for (float d : config.rope.freq_divisors) {
      if (!(d > 0.0f)) return data_loss("rope_freqs.weight holds a non-positive divisor");
    }
    config.rope_local = config.rope;
  }
  PODSERVE_ASSIGN_OR_RETURN(DecoderWeights bound, bind_gguf_weights(spec, config, file));
  config.model.kv_f32 = bound.embedding.type == DType::kF32;  // as DTYPE=auto on a float32 checkpoint
  return create_decoder_from(spec, std::move(config), std::make_shared<const GgufFile>(std::move(file)),
                             std::move(bound), compute);
}

}  // namespace podserve
