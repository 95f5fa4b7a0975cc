// One forward step on the stream: the layer loop of decoder.cpp's DecoderModel::forward, kernel by kernel.
#include <cmath>

#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_decoder.h"

namespace podserve::cuda {
namespace {

namespace k = kernels::cuda;

// The step arrays on the device (layout_ offsets into step_device_).
struct StepArrays {
  const int32_t *tokens, *positions, *slots, *logits_rows, *seq_lens, *cu_q, *tables;
};

StepArrays arrays_of(const uint8_t* base, const StepLayout& l) {
  auto at = [base](size_t off) { return reinterpret_cast<const int32_t*>(base + off); };
  return {at(l.tokens), at(l.positions), at(l.slots), at(l.logits_rows), at(l.seq_lens), at(l.cu_q), at(l.block_tables)};
}

// A matrix of `rows` rows starting at `first` (fused q|k|v or gate|up, placed back to back with their twins).
DeviceMatrix rows_from(const DeviceMatrix& first, int64_t rows) {
  DeviceMatrix m = first;
  m.rows = rows;
  return m;
}

}  // namespace

Result<StepBuffers> CudaDecoder::carve(int n_tokens) {
  const ModelConfig& c = hf_.model;
  const int64_t n = n_tokens, H = c.hidden, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim();
  const int64_t I = c.ffn_hidden, E = hf_.n_experts, K = hf_.experts_per_tok;
  arena_.reset();
  StepBuffers b;
  PODSERVE_ASSIGN_OR_RETURN(b.x, arena_.allocate_array<float>(n * H, "residual"));
  PODSERVE_ASSIGN_OR_RETURN(b.h, arena_.allocate_array<float>(n * H, "hidden"));
  PODSERVE_ASSIGN_OR_RETURN(b.qkv, arena_.allocate_array<float>(n * (q_dim + 2 * kv_dim), "qkv"));
  PODSERVE_ASSIGN_OR_RETURN(b.att, arena_.allocate_array<float>(n * q_dim, "attention output"));
  if (spec_.moe) {
    PODSERVE_ASSIGN_OR_RETURN(b.router, arena_.allocate_array<float>(n * E, "router logits"));
    PODSERVE_ASSIGN_OR_RETURN(b.routing.topk_expert, arena_.allocate_array<int32_t>(n * K, "routing"));
    PODSERVE_ASSIGN_OR_RETURN(b.routing.topk_weight, arena_.allocate_array<float>(n * K, "routing"));
    PODSERVE_ASSIGN_OR_RETURN(b.routing.expert_offsets, arena_.allocate_array<int32_t>(E + 1, "routing"));
    PODSERVE_ASSIGN_OR_RETURN(b.routing.sorted_token, arena_.allocate_array<int32_t>(n * K, "routing"));
    PODSERVE_ASSIGN_OR_RETURN(b.routing.assignment_of, arena_.allocate_array<int32_t>(n * K, "routing"));
    PODSERVE_ASSIGN_OR_RETURN(b.expert_gu, arena_.allocate_array<float>(n * K * 2 * I, "expert gate|up"));
    PODSERVE_ASSIGN_OR_RETURN(b.expert_out, arena_.allocate_array<float>(n * K * H, "expert output"));
  } else {
    PODSERVE_ASSIGN_OR_RETURN(b.gu, arena_.allocate_array<float>(n * 2 * I, "gate|up"));
  }
  const int64_t chunk = std::min<int64_t>(logits_chunk_, std::max<int64_t>(n, 1));
  PODSERVE_ASSIGN_OR_RETURN(b.normed, arena_.allocate_array<float>(chunk * H, "final norm rows"));
  PODSERVE_ASSIGN_OR_RETURN(b.logits, arena_.allocate_array<float>(chunk * c.vocab_size, "logits"));
  return b;
}

Status CudaDecoder::matmul(const DeviceMatrix& m, const float* x, int64_t x_stride, int64_t n, const float* bias,
                           float* y, int64_t y_stride) {
  if (n <= k::kGemvMaxTokens) return k::gemv(weights_.stored(m), x, x_stride, n, bias, y, y_stride, stream_.get());
  return gemm_->gemm(weights_.for_gemm(m), x, x_stride, n, bias, y, y_stride, stream_.get());
}

Status CudaDecoder::project_qkv(const DeviceLayer& l, const float* x, int64_t n, float* qkv) {
  const ModelConfig& c = hf_.model;
  const int64_t H = c.hidden, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = c.kv_dim(), width = q_dim + 2 * kv_dim;
  if (l.qkv_adjacent) {  // one matmul over q | k | v rows (biases back to back too)
    return matmul(rows_from(l.wq, width), x, H, n, weights_.vec(l.bq), qkv, width);
  }
  PODSERVE_RETURN_IF_ERROR(matmul(l.wq, x, H, n, weights_.vec(l.bq), qkv, width));
  PODSERVE_RETURN_IF_ERROR(matmul(l.wk, x, H, n, weights_.vec(l.bk), qkv + q_dim, width));
  return matmul(l.wv, x, H, n, weights_.vec(l.bv), qkv + q_dim + kv_dim, width);
}

Status CudaDecoder::mlp(const PackedStep& p, const DeviceLayer& l, int li, const float* x, int64_t n, float* gu,
                        float* out) {
  const ModelConfig& c = hf_.model;
  const int64_t H = c.hidden, I = l.gate.rows;
  const bool biases = l.b_gate.present() || l.b_up.present();
  if (l.gate_up_adjacent && !biases) {
    PODSERVE_RETURN_IF_ERROR(matmul(rows_from(l.gate, 2 * I), x, H, n, nullptr, gu, 2 * I));
  } else {
    PODSERVE_RETURN_IF_ERROR(matmul(l.gate, x, H, n, weights_.vec(l.b_gate), gu, 2 * I));
    PODSERVE_RETURN_IF_ERROR(matmul(l.up, x, H, n, weights_.vec(l.b_up), gu + I, 2 * I));
  }
  PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kGate, x, H, H, gu, 2 * I, I));
  PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kUp, x, H, H, gu + I, 2 * I, I));
  const k::Activation act = hf_.activation == "gelu_pytorch_tanh" ? k::Activation::kGeluTanh : k::Activation::kSilu;
  PODSERVE_RETURN_IF_ERROR(k::act_mul(act, gu, 2 * I, gu + I, 2 * I, gu, 2 * I, n, I, stream_.get()));
  PODSERVE_RETURN_IF_ERROR(matmul(l.down, gu, 2 * I, n, weights_.vec(l.b_down), out, H));
  return add_lora(p, li, LoraModule::kDown, gu, 2 * I, I, out, H, H);
}

// Mixtral: route, the experts' grouped GEMVs over the assignments (no host round trip, so decode graphs capture
// it), combine in ascending expert order.
Status CudaDecoder::moe(const DeviceLayer& l, int li, const StepBuffers& b, int64_t n) {
  const ModelConfig& c = hf_.model;
  const int64_t H = c.hidden, I = c.ffn_hidden;
  const int32_t E = hf_.n_experts, K = hf_.experts_per_tok;
  cudaStream_t s = stream_.get();
  PODSERVE_RETURN_IF_ERROR(matmul(l.router, b.h, H, n, nullptr, b.router, E));
  PODSERVE_RETURN_IF_ERROR(k::moe_route(b.router, n, E, K, b.routing, s));
  const k::ExpertMatrices& gate = experts_[static_cast<size_t>(li) * 3];
  const k::ExpertMatrices& up = experts_[static_cast<size_t>(li) * 3 + 1];
  const k::ExpertMatrices& down = experts_[static_cast<size_t>(li) * 3 + 2];
  const int64_t assignments = n * K;
  PODSERVE_RETURN_IF_ERROR(k::moe_gemv(gate, b.routing, E, assignments, b.h, H, true, b.expert_gu, 2 * I, s));
  PODSERVE_RETURN_IF_ERROR(k::moe_gemv(up, b.routing, E, assignments, b.h, H, true, b.expert_gu + I, 2 * I, s));
  PODSERVE_RETURN_IF_ERROR(k::act_mul(k::Activation::kSilu, b.expert_gu, 2 * I, b.expert_gu + I, 2 * I, b.expert_gu,
                                      2 * I, assignments, I, s));
  PODSERVE_RETURN_IF_ERROR(k::moe_gemv(down, b.routing, E, assignments, b.expert_gu, 2 * I, false, b.expert_out, H, s));
  return k::moe_combine(b.expert_out, H, b.routing, n, K, H, b.h, H, s);
}

Status CudaDecoder::run_step(const PackedStep& p, KvPool& pool, const StepBuffers& b, float* host_out) {
  const ModelConfig& c = hf_.model;
  const int64_t n = p.n_tokens, H = c.hidden, D = c.head_dim, q_dim = int64_t{c.n_heads} * D, kv_dim = c.kv_dim();
  const int64_t width = q_dim + 2 * kv_dim, V = c.vocab_size;
  const float eps = c.rms_eps;
  cudaStream_t s = stream_.get();
  const StepArrays a = arrays_of(step_device_.data(), layout_);
  const WeightPlan& w = weights_.plan;
  const int32_t W = layout_.max_blocks_per_seq;

  const float embed_scale = spec_.embed_scale ? std::sqrt(static_cast<float>(H)) : 1.0f;
  PODSERVE_RETURN_IF_ERROR(k::embedding(weights_.stored(w.embedding), a.tokens, n, embed_scale, b.x, s));
  PODSERVE_RETURN_IF_ERROR(k::rms_norm(b.x, H, nullptr, weights_.vec(w.layers[0].attn_norm), b.h, H, n, H, eps, s));
  PODSERVE_RETURN_IF_ERROR(check_stage(s, "embedding"));
  for (int li = 0; li < c.n_layers; ++li) {
    const DeviceLayer& l = w.layers[static_cast<size_t>(li)];
    PODSERVE_RETURN_IF_ERROR(project_qkv(l, b.h, n, b.qkv));
    PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kQ, b.h, H, H, b.qkv, width, q_dim));
    PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kK, b.h, H, H, b.qkv + q_dim, width, kv_dim));
    PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kV, b.h, H, H, b.qkv + q_dim + kv_dim, width, kv_dim));
    k::RopeParams rope;
    rope.kind = k::RopeKind::kRotateHalf;
    rope.rot_dim = c.rope_dim;
    rope.inv_freq = l.sliding ? inv_freq_local_ : inv_freq_full_;
    rope.attn_factor = l.sliding ? attn_factor_local_ : attn_factor_full_;
    const k::PagedKvCache cache{pool.k(li), pool.v(li), kv_type_, kv_dim, pool.block_size()};
    PODSERVE_RETURN_IF_ERROR(k::rope_qk_kv_write(b.qkv, width, c.n_heads, b.qkv + q_dim, width, b.qkv + q_dim + kv_dim,
                                                 width, c.n_kv_heads, static_cast<int32_t>(D), a.positions, a.slots, n,
                                                 rope, weights_.vec(l.q_norm), weights_.vec(l.k_norm), eps, cache, s));
    k::AttentionShape shape;
    shape.n_heads = c.n_heads;
    shape.n_kv_heads = c.n_kv_heads;
    shape.head_dim = static_cast<int32_t>(D);
    shape.scale = attn_scale_;
    shape.softcap = static_cast<float>(hf_.attn_softcap);
    shape.window = l.sliding ? hf_.sliding_window : 0;
    if (p.n_decode > 0) {
      PODSERVE_RETURN_IF_ERROR(k::attention_decode(shape, b.qkv, width, cache, k::BlockTables{a.tables, W}, a.seq_lens,
                                                   p.n_decode, decode_scratch_.data(), b.att, q_dim, s));
    }
    if (p.n_prefill_seqs > 0) {
      const int64_t d = p.n_decode;
      PODSERVE_RETURN_IF_ERROR(k::attention_prefill(shape, b.qkv + d * width, width, cache,
                                                    k::BlockTables{a.tables + d * W, W}, a.cu_q, a.seq_lens + d,
                                                    p.n_prefill_seqs, p.max_query_len, b.att + d * q_dim, q_dim, s));
    }
    PODSERVE_RETURN_IF_ERROR(matmul(l.wo, b.att, q_dim, n, weights_.vec(l.bo), b.h, H));
    PODSERVE_RETURN_IF_ERROR(add_lora(p, li, LoraModule::kO, b.att, q_dim, q_dim, b.h, H, H));
    if (spec_.sandwich_norms) {
      PODSERVE_RETURN_IF_ERROR(k::rms_norm(b.h, H, nullptr, weights_.vec(l.post_attn_norm), b.h, H, n, H, eps, s));
    }
    PODSERVE_RETURN_IF_ERROR(k::add_rms_norm(b.x, b.h, weights_.vec(l.ffn_norm), b.h, n, H, eps, s));
    if (spec_.moe) {
      PODSERVE_RETURN_IF_ERROR(moe(l, li, b, n));
    } else {
      PODSERVE_RETURN_IF_ERROR(mlp(p, l, li, b.h, n, b.gu, b.h));
    }
    if (spec_.sandwich_norms) {
      PODSERVE_RETURN_IF_ERROR(k::rms_norm(b.h, H, nullptr, weights_.vec(l.post_ffn_norm), b.h, H, n, H, eps, s));
    }
    if (li + 1 < c.n_layers) {
      PODSERVE_RETURN_IF_ERROR(k::add_rms_norm(b.x, b.h, weights_.vec(w.layers[static_cast<size_t>(li) + 1].attn_norm),
                                               b.h, n, H, eps, s));
    } else {
      PODSERVE_RETURN_IF_ERROR(k::add(b.x, b.h, n * H, s));
    }
    PODSERVE_RETURN_IF_ERROR(check_stage(s, "decoder layer"));
  }
  // Logits of the wanted rows, at most logits_chunk_ rows per pass (prompt logprobs can ask for many).
  const int64_t chunk = std::min<int64_t>(logits_chunk_, std::max<int64_t>(n, 1));
  for (int64_t r0 = 0; r0 < p.n_logits; r0 += chunk) {
    const int64_t rows = std::min<int64_t>(chunk, p.n_logits - r0);
    PODSERVE_RETURN_IF_ERROR(k::rms_norm(b.x, H, a.logits_rows + r0, weights_.vec(w.final_norm), b.normed, H, rows, H,
                                         eps, s));
    PODSERVE_RETURN_IF_ERROR(matmul(w.output, b.normed, H, rows, nullptr, b.logits, V));
    if (hf_.final_softcap > 0) {
      PODSERVE_RETURN_IF_ERROR(k::softcap(b.logits, rows * V, static_cast<float>(hf_.final_softcap), s));
    }
    const int64_t real = std::min<int64_t>(rows, p.n_real_logits - r0);
    if (host_out != nullptr && real > 0) {
      PODSERVE_CUDA_TRY(cudaMemcpyAsync(host_out + r0 * V, b.logits, static_cast<size_t>(real * V) * sizeof(float),
                                        cudaMemcpyDeviceToHost, s));
    }
  }
  return check_stage(s, "logits");
}

}  // namespace podserve::cuda
