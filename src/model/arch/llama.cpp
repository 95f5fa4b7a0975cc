// Llama forward pass: pre-norm decoder blocks of grouped-query attention with interleaved RoPE (GGUF stores
// Q/K permuted for it; llama3 rope_freqs and linear scaling) and a SwiGLU MLP; tied output embeddings when
// output.weight is absent. LoRA adapters (model/lora.h) add their deltas to every projection: their q/k lora_B
// rows come permuted like the file's Q/K (ModelConfig::qk_rows_interleaved), so the deltas land in the
// interleaved layout this path computes in; the base weights' type (F32, F16, quantized) does not matter.
#include "model/arch/llama.h"

#include <cmath>
#include <vector>

#include "base/log.h"
#include "base/thread_pool.h"
#include "kernels/cpu/packed_weights.h"
#include "kernels/fused_ops.h"
#include "kernels/model_ops.h"
#include "kernels/ops.h"
#include "kernels/ref/dequant.h"
#include "model/batch_check.h"
#include "model/lora.h"
#include "model/weights.h"

namespace podserve {
namespace {

struct LayerWeights {
  const float* attn_norm;
  kernels::MatrixView wq, wk, wv, wo;
  const float* ffn_norm;
  kernels::MatrixView w_gate, w_up, w_down;
};

Result<int> read_dim(const GgufFile& f, const std::string& key, int fallback, int max_value) {
  if (!f.has(key)) {
    if (fallback >= 0) return fallback;
    return data_loss("model file is missing '" + key + "'");
  }
  PODSERVE_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
  if (v <= 0 || v > max_value) {
    return data_loss("'" + key + "' = " + std::to_string(v) + " is out of range (1.." + std::to_string(max_value) + ")");
  }
  return static_cast<int>(v);
}

Result<ModelConfig> read_config(const GgufFile& f) {
  ModelConfig c;
  c.architecture = "llama";
  c.qk_rows_interleaved = true;  // computed as stored (rope_interleaved), never put back in HF order
  const std::string p = "llama.";
  PODSERVE_ASSIGN_OR_RETURN(c.n_layers, read_dim(f, p + "block_count", -1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.hidden, read_dim(f, p + "embedding_length", -1, 1 << 16));
  PODSERVE_ASSIGN_OR_RETURN(c.n_heads, read_dim(f, p + "attention.head_count", -1, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.n_kv_heads, read_dim(f, p + "attention.head_count_kv", c.n_heads, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.ffn_hidden, read_dim(f, p + "feed_forward_length", -1, 1 << 18));
  PODSERVE_ASSIGN_OR_RETURN(c.context_length, read_dim(f, p + "context_length", 2048, 1 << 24));
  PODSERVE_ASSIGN_OR_RETURN(c.head_dim, read_dim(f, p + "attention.key_length", c.hidden / c.n_heads, 1024));
  PODSERVE_ASSIGN_OR_RETURN(c.rope_dim, read_dim(f, p + "rope.dimension_count", c.head_dim, c.head_dim));
  if (f.has(p + "rope.freq_base")) {
    PODSERVE_ASSIGN_OR_RETURN(double theta, f.get_float(p + "rope.freq_base"));
    c.rope_theta = static_cast<float>(theta);
  }
  if (f.has(p + "attention.layer_norm_rms_epsilon")) {
    PODSERVE_ASSIGN_OR_RETURN(double eps, f.get_float(p + "attention.layer_norm_rms_epsilon"));
    c.rms_eps = static_cast<float>(eps);
  }
  if (c.n_heads % c.n_kv_heads != 0) return data_loss("head_count must be a multiple of head_count_kv");
  if (c.head_dim % 2 != 0 || c.rope_dim % 2 != 0) return data_loss("head and rope dimensions must be even");
  if (!(c.rope_theta > 0.0f) || !(c.rms_eps > 0.0f)) return data_loss("rope.freq_base and rms epsilon must be > 0");
  if (f.has(p + "rope.scaling.type")) {
    PODSERVE_ASSIGN_OR_RETURN(std::string type, f.get_string(p + "rope.scaling.type"));
    if (type == "linear") {
      PODSERVE_ASSIGN_OR_RETURN(double factor, f.get_float(p + "rope.scaling.factor"));
      if (!(factor >= 1.0 && factor <= 1e6)) return data_loss("rope.scaling.factor must be in 1..1e6");
      c.rope_linear_factor = static_cast<float>(factor);
    } else if (type != "none") {
      return unimplemented("rope scaling '" + type + "' is not supported for GGUF (supported: none, linear, llama3 rope_freqs)");
    }
  }
  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) return data_loss("model file is missing tensor 'token_embd.weight'");
  c.vocab_size = static_cast<int>(embd->dims[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  return c;
}

class LlamaModel final : public CausalLm {
 public:
  LlamaModel(GgufFile file, ModelConfig config, int num_threads)
      : file_(std::move(file)), config_(std::move(config)), pool_(num_threads) {}

  Status bind() {
    const ModelConfig& c = config_;
    const int q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
    PODSERVE_ASSIGN_OR_RETURN(embedding_, bind_matrix(file_, "token_embd.weight", c.vocab_size, c.hidden));
    PODSERVE_ASSIGN_OR_RETURN(output_norm_, bind_vector(file_, "output_norm.weight", c.hidden));
    if (c.tied_embeddings) {
      output_ = embedding_;
    } else {
      PODSERVE_ASSIGN_OR_RETURN(output_, bind_matrix(file_, "output.weight", c.vocab_size, c.hidden));
    }
    // Rope scaling (llama3's per-frequency divisors in rope_freqs, or linear) folds into explicit frequencies.
    if (file_.find_tensor("rope_freqs.weight") != nullptr || c.rope_linear_factor != 1.0f) {
      const float* divisors = nullptr;
      if (file_.find_tensor("rope_freqs.weight") != nullptr) {
        PODSERVE_ASSIGN_OR_RETURN(divisors, bind_vector(file_, "rope_freqs.weight", c.rope_dim / 2));
      }
      inv_freq_.resize(c.rope_dim / 2);
      for (int i = 0; i < c.rope_dim / 2; ++i) {
        const double base = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dim);
        const double div = (divisors ? divisors[i] : 1.0) * c.rope_linear_factor;
        if (!(div > 0.0)) return data_loss("rope_freqs.weight holds a non-positive divisor");
        inv_freq_[i] = static_cast<float>(base / div);
      }
    }
    layers_.resize(c.n_layers);
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".";
      LayerWeights& l = layers_[i];
      PODSERVE_ASSIGN_OR_RETURN(l.attn_norm, bind_vector(file_, b + "attn_norm.weight", c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.wq, bind_matrix(file_, b + "attn_q.weight", q_dim, c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.wk, bind_matrix(file_, b + "attn_k.weight", kv_dim, c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.wv, bind_matrix(file_, b + "attn_v.weight", kv_dim, c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.wo, bind_matrix(file_, b + "attn_output.weight", c.hidden, q_dim));
      PODSERVE_ASSIGN_OR_RETURN(l.ffn_norm, bind_vector(file_, b + "ffn_norm.weight", c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.w_gate, bind_matrix(file_, b + "ffn_gate.weight", c.ffn_hidden, c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.w_up, bind_matrix(file_, b + "ffn_up.weight", c.ffn_hidden, c.hidden));
      PODSERVE_ASSIGN_OR_RETURN(l.w_down, bind_matrix(file_, b + "ffn_down.weight", c.hidden, c.ffn_hidden));
      for (kernels::MatrixView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) packed_.pack(m, &pool_);
    }
    packed_.pack(&output_, &pool_);  // the embedding's rows are read as they are
    return ok_status();
  }

  const ModelConfig& config() const override { return config_; }

  ThreadPool* thread_pool() override { return &pool_; }

  bool supports_lora() const override { return true; }

  // Per layer: q/k/v in one matmul dispatch, rope + K/V store, attention per (sequence, K/V head, run of
  // tokens), output projection, then the gate/up/SiLU MLP in one dispatch and the down projection. Residual adds
  // are fused with the next RMS norm; per-token steps run on the pool when there are several tokens (prefill).
  // Every value keeps the bits of the plain op sequence, whatever the batch (engine batch invariance).
  Status forward(const ForwardBatch& batch, KvPool& pool, float* logits) override {
    PODSERVE_RETURN_IF_ERROR(validate_batch(batch, pool, config_.vocab_size, true, supports_lora()));
    const ModelConfig& c = config_;
    const int64_t n = static_cast<int64_t>(batch.tokens.size());
    const int64_t H = c.hidden, q_dim = c.n_heads * c.head_dim, kv_dim = c.kv_dim();
    x_.resize(n * H); h_.resize(n * H); q_.resize(n * q_dim); k_.resize(n * kv_dim); v_.resize(n * kv_dim);
    att_.resize(n * q_dim); gate_.resize(n * c.ffn_hidden); up_.resize(n * c.ffn_hidden);
    plan_attention_runs(batch, runs_);

    pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        dequantize_row_ref(embedding_.type, embedding_.row(batch.tokens[t]), x_.data() + t * H, H);
        kernels::cpu::rms_norm(x_.data() + t * H, layers_[0].attn_norm, h_.data() + t * H, H, c.rms_eps);
      }
    });
    for (int li = 0; li < c.n_layers; ++li) {
      const LayerWeights& l = layers_[li];
      const kernels::MatrixView qkv[3] = {l.wq, l.wk, l.wv};
      float* const qkv_out[3] = {q_.data(), k_.data(), v_.data()};
      kernels::cpu::matmul_many(qkv, h_.data(), qkv_out, n, &pool_);
      add_lora(batch, li, LoraModule::kQ, h_.data(), H, q_.data(), q_dim, lora_pairs_, &pool_);
      add_lora(batch, li, LoraModule::kK, h_.data(), H, k_.data(), kv_dim, lora_pairs_, &pool_);
      add_lora(batch, li, LoraModule::kV, h_.data(), H, v_.data(), kv_dim, lora_pairs_, &pool_);
      uint16_t* k_pool = pool.k(li);
      uint16_t* v_pool = pool.v(li);
      pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) rope_and_store(batch, t, k_pool, v_pool);
      });
      attention(batch, k_pool, v_pool, pool.block_size());
      kernels::cpu::matmul(l.wo, att_.data(), h_.data(), n, &pool_);
      add_lora(batch, li, LoraModule::kO, att_.data(), q_dim, h_.data(), H, lora_pairs_, &pool_);
      add_and_norm(n, l.ffn_norm);
      swiglu(batch, li, l);
      kernels::cpu::matmul(l.w_down, gate_.data(), h_.data(), n, &pool_);
      add_lora(batch, li, LoraModule::kDown, gate_.data(), c.ffn_hidden, h_.data(), H, lora_pairs_, &pool_);
      if (li + 1 < c.n_layers) {
        add_and_norm(n, layers_[li + 1].attn_norm);
      } else {
        for (int64_t i = 0; i < n * H; ++i) x_[i] += h_[i];
      }
    }
    // Final norm of the rows whose logits are wanted, gathered, then one output matmul.
    const int64_t rows = static_cast<int64_t>(batch.logits_rows.size());
    for (int64_t r = 0; r < rows; ++r) {
      kernels::cpu::rms_norm(x_.data() + batch.logits_rows[r] * H, output_norm_, h_.data() + r * H, H, c.rms_eps);
    }
    if (rows > 0) kernels::cpu::matmul(output_, h_.data(), logits, rows, &pool_);
    return ok_status();
  }

 private:
  // gate_ = silu(gate(h)) * up(h). An adapter on gate or up adds its deltas between the matmuls and the SiLU;
  // the fused kernel gives the bits of that unfused path, so a token's result does not depend on the batch.
  void swiglu(const ForwardBatch& batch, int li, const LayerWeights& l) {
    const int64_t n = static_cast<int64_t>(batch.tokens.size()), H = config_.hidden, I = config_.ffn_hidden;
    if (!lora_wraps(batch, li, LoraModule::kGate) && !lora_wraps(batch, li, LoraModule::kUp)) {
      kernels::cpu::matmul_swiglu(l.w_gate, l.w_up, h_.data(), gate_.data(), up_.data(), n, &pool_);
      return;
    }
    const kernels::MatrixView both[2] = {l.w_gate, l.w_up};
    float* const both_out[2] = {gate_.data(), up_.data()};
    kernels::cpu::matmul_many(both, h_.data(), both_out, n, &pool_);
    add_lora(batch, li, LoraModule::kGate, h_.data(), H, gate_.data(), I, lora_pairs_, &pool_);
    add_lora(batch, li, LoraModule::kUp, h_.data(), H, up_.data(), I, lora_pairs_, &pool_);
    kernels::cpu::silu_mul(gate_.data(), up_.data(), gate_.data(), n * I);
  }

  // x += h, then h = rms_norm(x) * norm, per token.
  void add_and_norm(int64_t n, const float* norm) {
    const int64_t H = config_.hidden;
    pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * H; i < end * H; ++i) x_[i] += h_[i];
      for (int64_t t = begin; t < end; ++t) {
        kernels::cpu::rms_norm(x_.data() + t * H, norm, h_.data() + t * H, H, config_.rms_eps);
      }
    });
  }

  // RoPE on token t's q and k, then its K/V (fp16) into its slot.
  void rope_and_store(const ForwardBatch& batch, int64_t t, uint16_t* k_pool, uint16_t* v_pool) {
    const ModelConfig& c = config_;
    const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.kv_dim(), pos = batch.positions[t];
    float* q = q_.data() + t * q_dim;
    float* k = k_.data() + t * kv_dim;
    if (inv_freq_.empty()) {
      kernels::cpu::rope_interleaved(q, c.n_heads, c.head_dim, c.rope_dim, pos, c.rope_theta);
      kernels::cpu::rope_interleaved(k, c.n_kv_heads, c.head_dim, c.rope_dim, pos, c.rope_theta);
    } else {
      kernels::cpu::rope_interleaved_freqs(q, c.n_heads, c.head_dim, c.rope_dim, pos, inv_freq_.data());
      kernels::cpu::rope_interleaved_freqs(k, c.n_kv_heads, c.head_dim, c.rope_dim, pos, inv_freq_.data());
    }
    kernels::cpu::store_fp16(k, k_pool + batch.slots[t] * kv_dim, kv_dim);
    kernels::cpu::store_fp16(v_.data() + t * kv_dim, v_pool + batch.slots[t] * kv_dim, kv_dim);
  }

  // Causal attention through each sequence's block table: one task per (run, K/V head).
  void attention(const ForwardBatch& batch, const uint16_t* k_pool, const uint16_t* v_pool, int64_t block_size) {
    const ModelConfig& c = config_;
    const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.kv_dim(), group = c.n_heads / c.n_kv_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    const int64_t tasks = static_cast<int64_t>(runs_.size()) * c.n_kv_heads;
    pool_.parallel_for(tasks, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const TokenRun& run = runs_[i / c.n_kv_heads];
        const int64_t kv_head = i % c.n_kv_heads, head_off = kv_head * group * c.head_dim;
        const std::vector<int32_t>& table = batch.block_tables[batch.seq_of_token[run.begin]];
        const kernels::PagedKv kv{k_pool + kv_head * c.head_dim, v_pool + kv_head * c.head_dim, kv_dim,
                                  table.data(), block_size};
        const kernels::AttentionBlock b = attention_block_of(batch, run, q_.data(), att_.data(), q_dim, head_off, group);
        kernels::cpu::attention_block(b, kv, c.head_dim, scale);
      }
    });
  }


  GgufFile file_;  // owns the mapping the weight views point into
  ModelConfig config_;
  ThreadPool pool_;
  kernels::cpu::PackedWeights packed_;  // the matmul operands repacked for this CPU's path
  kernels::MatrixView embedding_, output_;
  const float* output_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::vector<float> inv_freq_;  // set when the file scales RoPE; else frequencies come from rope_theta
  // Activation scratch, [n_tokens, dim] each; reused across calls.
  std::vector<float> x_, h_, q_, k_, v_, att_, gate_, up_;
  std::vector<TokenRun> runs_;  // this batch's attention runs (plan_attention_runs)
  std::vector<kernels::LoraPair> lora_pairs_;  // add_lora's slot table
};

}  // namespace

Result<std::unique_ptr<CausalLm>> create_llama(GgufFile file, int num_threads) {
  PODSERVE_ASSIGN_OR_RETURN(ModelConfig config, read_config(file));
  auto model = std::make_unique<LlamaModel>(std::move(file), std::move(config), num_threads);
  PODSERVE_RETURN_IF_ERROR(model->bind());
  const ModelConfig& c = model->config();
  PODSERVE_LOG(kInfo) << "llama: " << c.n_layers << " layers, hidden " << c.hidden << ", heads " << c.n_heads << "/"
                      << c.n_kv_heads << ", vocab " << c.vocab_size << ", context " << c.context_length
                      << (c.tied_embeddings ? ", tied embeddings" : "");
  return std::unique_ptr<CausalLm>(std::move(model));
}

}  // namespace podserve
