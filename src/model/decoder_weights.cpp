#include <cstring>

#include "base/fp16.h"
#include "kernels/ref/dequant.h"
#include "model/decoder.h"

namespace podserve {
namespace {

std::string shape_string(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Binder {
 public:
  Binder(SafetensorsModel& file, WeightDType dtype, DecoderWeights& out) : file_(file), dtype_(dtype), out_(out) {}

  Result<const SafetensorsTensor*> tensor(const std::string& name, std::vector<int64_t> shape) {
    PODSERVE_ASSIGN_OR_RETURN(const SafetensorsTensor* t, file_.find_or_make(name, shape));
    if (t == nullptr) return data_loss("the checkpoint is missing tensor '" + name + "'");
    if (t->shape != shape) {
      return data_loss("tensor '" + name + "' has shape " + shape_string(t->shape) + ", expected " + shape_string(shape));
    }
    return t;
  }

  Result<kernels::MatrixView> matrix(const std::string& name, int64_t rows, int64_t cols) {
    PODSERVE_ASSIGN_OR_RETURN(const SafetensorsTensor* t, tensor(name, {rows, cols}));
    DType want = t->type;
    if (dtype_ == WeightDType::kFloat32) want = DType::kF32;
    if (dtype_ == WeightDType::kBFloat16) want = DType::kBF16;
    if (dtype_ == WeightDType::kFloat16) want = DType::kF16;
    if (want == t->type) return kernels::MatrixView{t->type, t->data, rows, cols};
    const int64_t n = rows * cols;
    std::vector<float> f(static_cast<size_t>(n));
    dequantize_row_ref(t->type, t->data, f.data(), n);
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * dtype_block_bytes(want));
    if (want == DType::kF32) {
      std::memcpy(bytes.data(), f.data(), bytes.size());
    } else {
      uint16_t* h = reinterpret_cast<uint16_t*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) h[i] = want == DType::kBF16 ? float_to_bf16(f[i]) : float_to_fp16(f[i]);
    }
    out_.owned.push_back(std::move(bytes));
    return kernels::MatrixView{want, out_.owned.back().data(), rows, cols};
  }

  // A float32 copy of a 1-D tensor of n elements, plus `offset` (Gemma's 1 + w).
  Result<std::vector<float>> vector(const std::string& name, int64_t n, float offset = 0.0f) {
    PODSERVE_ASSIGN_OR_RETURN(const SafetensorsTensor* t, tensor(name, {n}));
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row_ref(t->type, t->data, v.data(), n);
    for (float& x : v) x += offset;
    return v;
  }

  Result<std::vector<float>> optional_vector(const std::string& name, int64_t n, bool wanted) {
    if (!wanted) return std::vector<float>{};
    return vector(name, n);
  }

 private:
  SafetensorsModel& file_;  // non-const: a dummy checkpoint makes each tensor when it is first asked for
  WeightDType dtype_;
  DecoderWeights& out_;
};

// Rows [first, first + rows) of a fused matrix.
kernels::MatrixView slice_rows(const kernels::MatrixView& m, int64_t first, int64_t rows) {
  return kernels::MatrixView{m.type, m.row(first), rows, m.cols};
}

}  // namespace

void split_fused_qkv(const kernels::MatrixView& qkv, int64_t q_dim, int64_t kv_dim, DecoderLayer& layer) {
  layer.wq = slice_rows(qkv, 0, q_dim);
  layer.wk = slice_rows(qkv, q_dim, kv_dim);
  layer.wv = slice_rows(qkv, q_dim + kv_dim, kv_dim);
}

void split_fused_gate_up(const kernels::MatrixView& gate_up, int64_t ffn_hidden, DecoderLayer& layer) {
  layer.gate = slice_rows(gate_up, 0, ffn_hidden);
  layer.up = slice_rows(gate_up, ffn_hidden, ffn_hidden);
}

Result<WeightDType> parse_weight_dtype(const std::string& s) {
  if (s == "auto" || s.empty()) return WeightDType::kAuto;
  if (s == "float32" || s == "float") return WeightDType::kFloat32;
  if (s == "bfloat16") return WeightDType::kBFloat16;
  if (s == "float16" || s == "half") return WeightDType::kFloat16;
  return invalid_argument("dtype '" + s + "' is not one of auto, float32, bfloat16, float16");
}

Result<DecoderWeights> bind_decoder_weights(const DecoderSpec& spec, const HfConfig& config,
                                            SafetensorsModel& file, WeightDType dtype) {
  const ModelConfig& c = config.model;
  DecoderWeights w;
  w.owned.reserve(static_cast<size_t>(c.n_layers) * (8 + 3 * config.n_experts) + 2);  // views point into these
  Binder b(file, dtype, w);
  const float norm_offset = spec.gemma_norm ? 1.0f : 0.0f;
  const int64_t H = c.hidden, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim(), I = c.ffn_hidden;
  PODSERVE_ASSIGN_OR_RETURN(w.embedding, b.matrix("model.embed_tokens.weight", c.vocab_size, H));
  PODSERVE_ASSIGN_OR_RETURN(w.final_norm, b.vector("model.norm.weight", H, norm_offset));
  if (c.tied_embeddings) {
    w.output = w.embedding;
  } else {
    PODSERVE_ASSIGN_OR_RETURN(w.output, b.matrix("lm_head.weight", c.vocab_size, H));
  }
  const bool qkv_bias = spec.qkv_bias || config.attention_bias;
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    DecoderLayer& l = w.layers[i];
    l.sliding = config.sliding[i];
    PODSERVE_ASSIGN_OR_RETURN(l.attn_norm, b.vector(p + "input_layernorm.weight", H, norm_offset));
    if (spec.sandwich_norms) {
      PODSERVE_ASSIGN_OR_RETURN(l.post_attn_norm, b.vector(p + "post_attention_layernorm.weight", H, norm_offset));
      PODSERVE_ASSIGN_OR_RETURN(l.ffn_norm, b.vector(p + "pre_feedforward_layernorm.weight", H, norm_offset));
      PODSERVE_ASSIGN_OR_RETURN(l.post_ffn_norm, b.vector(p + "post_feedforward_layernorm.weight", H, norm_offset));
    } else {
      PODSERVE_ASSIGN_OR_RETURN(l.ffn_norm, b.vector(p + "post_attention_layernorm.weight", H, norm_offset));
    }
    const std::string a = p + "self_attn.";
    if (spec.fused_qkv) {
      PODSERVE_ASSIGN_OR_RETURN(kernels::MatrixView qkv, b.matrix(a + "qkv_proj.weight", q_dim + 2 * kv_dim, H));
      split_fused_qkv(qkv, q_dim, kv_dim, l);
    } else {
      PODSERVE_ASSIGN_OR_RETURN(l.wq, b.matrix(a + "q_proj.weight", q_dim, H));
      PODSERVE_ASSIGN_OR_RETURN(l.wk, b.matrix(a + "k_proj.weight", kv_dim, H));
      PODSERVE_ASSIGN_OR_RETURN(l.wv, b.matrix(a + "v_proj.weight", kv_dim, H));
      PODSERVE_ASSIGN_OR_RETURN(l.bq, b.optional_vector(a + "q_proj.bias", q_dim, qkv_bias));
      PODSERVE_ASSIGN_OR_RETURN(l.bk, b.optional_vector(a + "k_proj.bias", kv_dim, qkv_bias));
      PODSERVE_ASSIGN_OR_RETURN(l.bv, b.optional_vector(a + "v_proj.bias", kv_dim, qkv_bias));
    }
    PODSERVE_ASSIGN_OR_RETURN(l.wo, b.matrix(a + "o_proj.weight", H, q_dim));
    PODSERVE_ASSIGN_OR_RETURN(l.bo, b.optional_vector(a + "o_proj.bias", H, config.attention_bias));
    if (spec.qk_norm) {
      PODSERVE_ASSIGN_OR_RETURN(l.q_norm, b.vector(a + "q_norm.weight", c.head_dim, norm_offset));
      PODSERVE_ASSIGN_OR_RETURN(l.k_norm, b.vector(a + "k_norm.weight", c.head_dim, norm_offset));
    }
    if (spec.moe) {
      const std::string m = p + "block_sparse_moe.";
      PODSERVE_ASSIGN_OR_RETURN(l.router, b.matrix(m + "gate.weight", config.n_experts, H));
      l.experts.resize(config.n_experts);
      for (int e = 0; e < config.n_experts; ++e) {
        const std::string x = m + "experts." + std::to_string(e) + ".";
        PODSERVE_ASSIGN_OR_RETURN(l.experts[e].gate, b.matrix(x + "w1.weight", I, H));
        PODSERVE_ASSIGN_OR_RETURN(l.experts[e].up, b.matrix(x + "w3.weight", I, H));
        PODSERVE_ASSIGN_OR_RETURN(l.experts[e].down, b.matrix(x + "w2.weight", H, I));
      }
    } else if (spec.fused_gate_up) {
      PODSERVE_ASSIGN_OR_RETURN(kernels::MatrixView gu, b.matrix(p + "mlp.gate_up_proj.weight", 2 * I, H));
      split_fused_gate_up(gu, I, l);
      PODSERVE_ASSIGN_OR_RETURN(l.down, b.matrix(p + "mlp.down_proj.weight", H, I));
    } else {
      PODSERVE_ASSIGN_OR_RETURN(l.gate, b.matrix(p + "mlp.gate_proj.weight", I, H));
      PODSERVE_ASSIGN_OR_RETURN(l.up, b.matrix(p + "mlp.up_proj.weight", I, H));
      PODSERVE_ASSIGN_OR_RETURN(l.down, b.matrix(p + "mlp.down_proj.weight", H, I));
      PODSERVE_ASSIGN_OR_RETURN(l.b_gate, b.optional_vector(p + "mlp.gate_proj.bias", I, config.mlp_bias));
      PODSERVE_ASSIGN_OR_RETURN(l.b_up, b.optional_vector(p + "mlp.up_proj.bias", I, config.mlp_bias));
      PODSERVE_ASSIGN_OR_RETURN(l.b_down, b.optional_vector(p + "mlp.down_proj.bias", H, config.mlp_bias));
    }
  }
  return w;
}

}  // namespace podserve
