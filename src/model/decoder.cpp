#include "model/decoder.h"

#include <algorithm>
#include <cmath>

#include "base/fp16.h"
#include "base/log.h"
#include "kernels/cpu/packed_weights.h"
#include "kernels/fused_ops.h"
#include "kernels/model_ops.h"
#include "kernels/ref/dequant.h"
#include "model/batch_check.h"
#include "model/device/cuda_model.h"
#include "model/lora.h"

namespace podserve {
namespace {

void add_bias(float* y, const std::vector<float>& bias, int64_t n) {
  if (bias.empty()) return;
  const int64_t dim = static_cast<int64_t>(bias.size());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t d = 0; d < dim; ++d) y[t * dim + d] += bias[d];
  }
}

// Rope tables of one kind of layer (full or sliding attention).
struct Rope {
  std::vector<float> inv_freq;
  float attn_factor = 1.0f;
};

class DecoderModel final : public CausalLm {
 public:
  DecoderModel(const DecoderSpec& spec, HfConfig config, std::shared_ptr<const void> file, DecoderWeights weights,
               int threads)
      : spec_(spec), hf_(std::move(config)), file_(std::move(file)), w_(std::move(weights)), pool_(threads) {
    const ModelConfig& c = hf_.model;
    rope_full_.inv_freq = rope_inv_freq(hf_.rope, c.rope_dim, hf_.max_position_embeddings, &rope_full_.attn_factor);
    rope_local_.inv_freq = rope_inv_freq(hf_.rope_local, c.rope_dim, hf_.max_position_embeddings, &rope_local_.attn_factor);
    scale_ = hf_.query_pre_attn_scalar > 0 ? static_cast<float>(1.0 / std::sqrt(hf_.query_pre_attn_scalar))
                                           : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    // The matmul operands repacked for this CPU's path (the embedding's rows are read as they are).
    for (kernels::MatrixView* m : matmul_weights()) packed_.pack(m, &pool_);
  }

  const ModelConfig& config() const override { return hf_.model; }

  ThreadPool* thread_pool() override { return &pool_; }

  // Phi-3's fused projections and Mixtral's experts are not wrapped (yet).
  // Fused q|k|v and gate|up (Phi-3) run as their parts here, so a packed adapter module applies per part.
  bool supports_lora() const override { return !spec_.moe; }

  Status forward(const ForwardBatch& batch, KvPool& pool, float* logits) override {
    const ModelConfig& c = hf_.model;
    PODSERVE_RETURN_IF_ERROR(validate_batch(batch, pool, c.vocab_size, true, supports_lora()));
    if (pool.is_f32() != c.kv_f32) return invalid_argument("the KV pool's precision does not match the model's");
    const int64_t n = static_cast<int64_t>(batch.tokens.size());
    const int64_t H = c.hidden, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim();
    x_.resize(n * H); h_.resize(n * H); q_.resize(n * q_dim); k_.resize(n * kv_dim); v_.resize(n * kv_dim);
    att_.resize(n * q_dim); gate_.resize(n * c.ffn_hidden); up_.resize(n * c.ffn_hidden);

    for (int64_t t = 0; t < n; ++t) {
      dequantize_row_ref(w_.embedding.type, w_.embedding.row(batch.tokens[t]), x_.data() + t * H, H);
    }
    if (spec_.embed_scale) {
      const float s = std::sqrt(static_cast<float>(H));
      for (float& v : x_) v *= s;
    }
    for (int li = 0; li < c.n_layers; ++li) {
      const DecoderLayer& l = w_.layers[li];
      norm_rows(x_.data(), l.attn_norm, h_.data(), n, H);
      attention(batch, pool, li, l, n);
      kernels::cpu::matmul(l.wo, att_.data(), h_.data(), n, &pool_);
      add_bias(h_.data(), l.bo, n);
      add_lora(batch, li, LoraModule::kO, att_.data(), q_dim, h_.data(), H, lora_pairs_, &pool_);
      if (spec_.sandwich_norms) norm_rows(h_.data(), l.post_attn_norm, h_.data(), n, H);
      add_rows(x_.data(), h_.data(), n, H);

      norm_rows(x_.data(), l.ffn_norm, h_.data(), n, H);
      if (spec_.moe) moe(l, n);
      else mlp(l.gate, l.up, l.down, l.b_gate, l.b_up, l.b_down, h_.data(), h_.data(), n, &batch, li);
      if (spec_.sandwich_norms) norm_rows(h_.data(), l.post_ffn_norm, h_.data(), n, H);
      add_rows(x_.data(), h_.data(), n, H);
    }
    const int64_t rows = static_cast<int64_t>(batch.logits_rows.size());
    for (int64_t r = 0; r < rows; ++r) {
      kernels::cpu::rms_norm(x_.data() + batch.logits_rows[r] * H, w_.final_norm.data(), h_.data() + r * H, H, c.rms_eps);
    }
    if (rows > 0) kernels::cpu::matmul(w_.output, h_.data(), logits, rows, &pool_);
    if (hf_.final_softcap > 0) {
      const float cap = static_cast<float>(hf_.final_softcap);
      for (int64_t i = 0; i < rows * c.vocab_size; ++i) logits[i] = std::tanh(logits[i] / cap) * cap;
    }
    return ok_status();
  }

 private:
  // Per-row steps run on the pool when there are several rows (prefill); same bits as one row at a time.
  void norm_rows(const float* x, const std::vector<float>& w, float* y, int64_t n, int64_t dim) {
    pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) kernels::cpu::rms_norm(x + t * dim, w.data(), y + t * dim, dim, hf_.model.rms_eps);
    });
  }

  // x += y over [n, dim].
  void add_rows(float* x, const float* y, int64_t n, int64_t dim) {
    pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * dim; i < end * dim; ++i) x[i] += y[i];
    });
  }

  void attention(const ForwardBatch& batch, KvPool& pool, int li, const DecoderLayer& l, int64_t n) {
    const ModelConfig& c = hf_.model;
    const int64_t q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim(), D = c.head_dim;
    const kernels::MatrixView qkv[3] = {l.wq, l.wk, l.wv};
    float* const qkv_out[3] = {q_.data(), k_.data(), v_.data()};
    kernels::cpu::matmul_many(qkv, h_.data(), qkv_out, n, &pool_);
    add_bias(q_.data(), l.bq, n);
    add_bias(k_.data(), l.bk, n);
    add_bias(v_.data(), l.bv, n);
    add_lora(batch, li, LoraModule::kQ, h_.data(), c.hidden, q_.data(), q_dim, lora_pairs_, &pool_);
    add_lora(batch, li, LoraModule::kK, h_.data(), c.hidden, k_.data(), kv_dim, lora_pairs_, &pool_);
    add_lora(batch, li, LoraModule::kV, h_.data(), c.hidden, v_.data(), kv_dim, lora_pairs_, &pool_);
    if (spec_.qk_norm) {
      norm_rows(q_.data(), l.q_norm, q_.data(), n * c.n_heads, D);
      norm_rows(k_.data(), l.k_norm, k_.data(), n * c.n_kv_heads, D);
    }
    const Rope& rope = l.sliding ? rope_local_ : rope_full_;
    pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) rope_and_store(batch, pool, li, rope, t);
    });
    kernels::AttentionOptions opts;
    opts.scale = scale_;
    opts.softcap = static_cast<float>(hf_.attn_softcap);
    opts.window = l.sliding ? hf_.sliding_window : 0;
    // One task per (run of consecutive tokens of one sequence, K/V head): the run's queries of that GQA group
    // share each pass over the sequence's K/V (the kernel gives each query the same bits whatever its block).
    plan_attention_runs(batch, runs_);
    const int64_t group = c.n_heads / c.n_kv_heads;
    const int64_t tasks = static_cast<int64_t>(runs_.size()) * c.n_kv_heads;
    pool_.parallel_for(tasks, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const TokenRun& run = runs_[i / c.n_kv_heads];
        const int64_t kv_head = i % c.n_kv_heads, kv_off = kv_head * D, head_off = kv_head * group * D;
        const std::vector<int32_t>& table = batch.block_tables[batch.seq_of_token[run.begin]];
        const kernels::AttentionBlock b = attention_block_of(batch, run, q_.data(), att_.data(), q_dim, head_off, group);
        if (c.kv_f32) {
          const kernels::PagedKvF32 kv{pool.k_f32(li) + kv_off, pool.v_f32(li) + kv_off, kv_dim, table.data(), pool.block_size()};
          kernels::cpu::attention_block(b, kv, D, opts);
        } else {
          const kernels::PagedKv kv{pool.k(li) + kv_off, pool.v(li) + kv_off, kv_dim, table.data(), pool.block_size()};
          kernels::cpu::attention_block(b, kv, D, opts);
        }
      }
    });
  }


  // RoPE on token t's q and k, then its K/V into its slot.
  void rope_and_store(const ForwardBatch& batch, KvPool& pool, int li, const Rope& rope, int64_t t) {
    const ModelConfig& c = hf_.model;
    const int64_t q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim(), D = c.head_dim;
    const int64_t pos = batch.positions[t];
    kernels::cpu::rope_rotate_half(q_.data() + t * q_dim, c.n_heads, D, c.rope_dim, pos, rope.inv_freq.data(), rope.attn_factor);
    kernels::cpu::rope_rotate_half(k_.data() + t * kv_dim, c.n_kv_heads, D, c.rope_dim, pos, rope.inv_freq.data(), rope.attn_factor);
    const int64_t slot = batch.slots[t] * kv_dim;
    if (c.kv_f32) {
      std::copy_n(k_.data() + t * kv_dim, kv_dim, pool.k_f32(li) + slot);
      std::copy_n(v_.data() + t * kv_dim, kv_dim, pool.v_f32(li) + slot);
    } else {
      uint16_t* kc = pool.k(li) + slot;
      uint16_t* vc = pool.v(li) + slot;
      for (int64_t d = 0; d < kv_dim; ++d) {
        kc[d] = float_to_fp16(k_[t * kv_dim + d]);
        vc[d] = float_to_fp16(v_[t * kv_dim + d]);
      }
    }
  }

  // out = down(act(gate(x)) * up(x)) for n rows; out may alias x. With `batch`, its tokens' adapters of layer
  // `li` apply (the fused SwiGLU gives the unfused path's bits, so a token's result does not depend on which runs).
  void mlp(const kernels::MatrixView& gate, const kernels::MatrixView& up, const kernels::MatrixView& down,
           const std::vector<float>& b_gate, const std::vector<float>& b_up, const std::vector<float>& b_down,
           const float* x, float* out, int64_t n, const ForwardBatch* batch = nullptr, int li = 0) {
    const int64_t I = gate.rows, H = hf_.model.hidden;
    gate_.resize(std::max<size_t>(gate_.size(), n * I));
    up_.resize(std::max<size_t>(up_.size(), n * I));
    const bool lora_gate_up =
        batch && (lora_wraps(*batch, li, LoraModule::kGate) || lora_wraps(*batch, li, LoraModule::kUp));
    if (hf_.activation != "gelu_pytorch_tanh" && b_gate.empty() && b_up.empty() && !lora_gate_up) {
      kernels::cpu::matmul_swiglu(gate, up, x, gate_.data(), up_.data(), n, &pool_);  // one dispatch
    } else {
      const kernels::MatrixView both[2] = {gate, up};
      float* const both_out[2] = {gate_.data(), up_.data()};
      kernels::cpu::matmul_many(both, x, both_out, n, &pool_);
      add_bias(gate_.data(), b_gate, n);
      add_bias(up_.data(), b_up, n);
      if (batch) {
        add_lora(*batch, li, LoraModule::kGate, x, H, gate_.data(), I, lora_pairs_, &pool_);
        add_lora(*batch, li, LoraModule::kUp, x, H, up_.data(), I, lora_pairs_, &pool_);
      }
      if (hf_.activation == "gelu_pytorch_tanh") {  // per token row over the pool (a prefill's rows are many)
        float* g = gate_.data();
        const float* u = up_.data();
        pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
          kernels::cpu::gelu_tanh_mul(g + begin * I, u + begin * I, g + begin * I, (end - begin) * I);
        });
      } else {
        kernels::cpu::silu_mul(gate_.data(), up_.data(), gate_.data(), n * I);
      }
    }
    kernels::cpu::matmul(down, gate_.data(), out, n, &pool_);
    add_bias(out, b_down, n);
    if (batch) add_lora(*batch, li, LoraModule::kDown, gate_.data(), I, out, H, lora_pairs_, &pool_);
  }

  // Mixtral: softmax over the router logits, top-k experts renormalized, weighted sum of their MLPs (h_ in place).
  void moe(const DecoderLayer& l, int64_t n) {
    const int64_t H = hf_.model.hidden, E = hf_.n_experts, K = hf_.experts_per_tok;
    router_.resize(n * E);
    kernels::cpu::matmul(l.router, h_.data(), router_.data(), n, &pool_);
    std::vector<std::vector<std::pair<int64_t, float>>> routed(E);  // expert -> (token, weight)
    std::vector<int64_t> order(E);
    for (int64_t t = 0; t < n; ++t) {
      float* p = router_.data() + t * E;
      kernels::ref::softmax(p, E);
      for (int64_t e = 0; e < E; ++e) order[e] = e;
      std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int64_t a, int64_t b) {
        return p[a] != p[b] ? p[a] > p[b] : a < b;
      });
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) sum += p[order[k]];
      for (int64_t k = 0; k < K; ++k) routed[order[k]].push_back({t, p[order[k]] / sum});
    }
    moe_out_.assign(n * H, 0.0f);
    for (int64_t e = 0; e < E; ++e) {
      const auto& tokens = routed[e];
      if (tokens.empty()) continue;
      const int64_t m = static_cast<int64_t>(tokens.size());
      moe_in_.resize(m * H);
      for (int64_t i = 0; i < m; ++i) std::copy_n(h_.data() + tokens[i].first * H, H, moe_in_.data() + i * H);
      const ExpertWeights& x = l.experts[e];
      mlp(x.gate, x.up, x.down, {}, {}, {}, moe_in_.data(), moe_in_.data(), m);
      for (int64_t i = 0; i < m; ++i) {
        float* dst = moe_out_.data() + tokens[i].first * H;
        for (int64_t d = 0; d < H; ++d) dst[d] += tokens[i].second * moe_in_[i * H + d];
      }
    }
    std::copy(moe_out_.begin(), moe_out_.end(), h_.begin());
  }

  std::vector<kernels::MatrixView*> matmul_weights() {
    std::vector<kernels::MatrixView*> out = {&w_.output};
    for (DecoderLayer& l : w_.layers) {
      for (kernels::MatrixView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) out.push_back(m);
      for (ExpertWeights& e : l.experts) out.insert(out.end(), {&e.gate, &e.up, &e.down});
    }
    return out;
  }

  DecoderSpec spec_;
  HfConfig hf_;
  std::shared_ptr<const void> file_;  // owns the mappings the weight views point into (safetensors or GGUF)
  DecoderWeights w_;
  ThreadPool pool_;
  kernels::cpu::PackedWeights packed_;
  Rope rope_full_, rope_local_;
  float scale_ = 1.0f;
  std::vector<float> x_, h_, q_, k_, v_, att_, gate_, up_, router_, moe_in_, moe_out_;
  std::vector<TokenRun> runs_;  // this batch's attention runs (plan_attention_runs)
  std::vector<kernels::LoraPair> lora_pairs_;  // add_lora's slot table
};

}  // namespace

Result<std::unique_ptr<CausalLm>> create_decoder(const DecoderSpec& spec, HfConfig config, SafetensorsModel weights,
                                                 WeightDType dtype, const ComputeOptions& compute) {
  PODSERVE_ASSIGN_OR_RETURN(DecoderWeights bound, bind_decoder_weights(spec, config, weights, dtype));
  // float32 weights compute with float32 K/V (vLLM keeps K/V in the model dtype); others keep fp16 K/V.
  config.model.kv_f32 = dtype == WeightDType::kFloat32 || (dtype == WeightDType::kAuto && bound.embedding.type == DType::kF32);
  return create_decoder_from(spec, std::move(config), std::make_shared<const SafetensorsModel>(std::move(weights)),
                             std::move(bound), compute);
}

Result<std::unique_ptr<CausalLm>> create_decoder_from(const DecoderSpec& spec, HfConfig config,
                                                      std::shared_ptr<const void> file, DecoderWeights bound,
                                                      const ComputeOptions& compute) {
  if (compute.device == Device::kCuda) {
    return create_cuda_decoder(spec, std::move(config), std::move(file), std::move(bound), compute);
  }
  const ModelConfig& c = config.model;
  PODSERVE_LOG(kInfo) << c.architecture << ": " << c.n_layers << " layers, hidden " << c.hidden << ", heads "
                      << c.n_heads << "/" << c.n_kv_heads << " x " << c.head_dim << ", vocab " << c.vocab_size
                      << ", weights " << dtype_name(bound.embedding.type) << ", K/V " << (c.kv_f32 ? "F32" : "F16");
  return std::unique_ptr<CausalLm>(
      std::make_unique<DecoderModel>(spec, std::move(config), std::move(file), std::move(bound), compute.num_threads));
}

}  // namespace podserve
