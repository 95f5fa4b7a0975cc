// The shared decoder of every Hugging Face architecture we run: pre-norm blocks of grouped-query attention
// (rotate_half RoPE, optional q/k norms, soft-capping, sliding windows) and a gated MLP or top-k MoE. Each
// architecture (arch/*.cpp) is a DecoderSpec plus its config quirks; the weights come from safetensors by HF name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "kernels/ops.h"
#include "model/causal_lm.h"
#include "model/device/compute_options.h"
#include "model/hf_config.h"

namespace podserve {

/// What an architecture changes in the shared graph (models.md §2.4).
struct DecoderSpec {
  bool gemma_norm = false;      // RMSNorm multiplies by (1 + w)
  bool embed_scale = false;     // embeddings times sqrt(hidden) (Gemma)
  bool qk_norm = false;         // per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
  bool sandwich_norms = false;  // Gemma 2/3: norm after attention and around the MLP
  bool fused_qkv = false;       // Phi-3: one qkv_proj, rows q | k | v
  bool fused_gate_up = false;   // Phi-3: one gate_up_proj, rows gate | up
  bool qkv_bias = false;        // Qwen2: q, k, v biases (HF config attention_bias adds o too)
  bool moe = false;             // Mixtral: block_sparse_moe with per-expert w1/w3/w2
};

/// Storage precision chosen by DTYPE / --dtype.
enum class WeightDType { kAuto, kFloat32, kBFloat16, kFloat16 };
/// Parses "auto", "float32" (also "float"), "bfloat16", "float16" (also "half"); anything else is an error.
Result<WeightDType> parse_weight_dtype(const std::string& s);

struct ExpertWeights {
  kernels::MatrixView gate, up, down;
};

struct DecoderLayer {
  std::vector<float> attn_norm, post_attn_norm, ffn_norm, post_ffn_norm, q_norm, k_norm;
  kernels::MatrixView wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;
  kernels::MatrixView gate, up, down;
  std::vector<float> b_gate, b_up, b_down;
  kernels::MatrixView router;
  std::vector<ExpertWeights> experts;
  bool sliding = false;
};

struct DecoderWeights {
  kernels::MatrixView embedding, output;
  std::vector<float> final_norm;
  std::vector<DecoderLayer> layers;
  std::vector<std::vector<uint8_t>> owned;  // converted copies when DTYPE differs from the file's type
};

/// Phi-3's fused projections (DecoderSpec::fused_qkv, fused_gate_up) as views of their rows, for both weight
/// namings: `qkv` is q | k | v, `gate_up` is gate | up.
void split_fused_qkv(const kernels::MatrixView& qkv, int64_t q_dim, int64_t kv_dim, DecoderLayer& layer);
void split_fused_gate_up(const kernels::MatrixView& gate_up, int64_t ffn_hidden, DecoderLayer& layer);

/// Binds the HF tensor names of `spec`'s layout (decoder_weights.cpp). Norm weights and biases become float32
/// (Gemma norms as 1 + w); matrices stay in the file unless `dtype` asks for another type. A dummy checkpoint
/// (SafetensorsModel::made_by) makes each tensor as it is bound.
Result<DecoderWeights> bind_decoder_weights(const DecoderSpec& spec, const HfConfig& config, SafetensorsModel& file,
                                            WeightDType dtype);

/// Builds the model from an opened checkpoint. Every tensor's presence, shape and dtype is checked.
Result<std::unique_ptr<CausalLm>> create_decoder(const DecoderSpec& spec, HfConfig config, SafetensorsModel weights,
                                                 WeightDType dtype, const ComputeOptions& compute);
/// Builds the model from weights already bound (decoder_gguf.cpp binds GGUF files); `file` owns what the weight
/// views point into. `config.model.kv_f32` says the K/V precision. On the CPU, or on a CUDA device
/// (model/device/cuda_model.h) when `compute` says so.
Result<std::unique_ptr<CausalLm>> create_decoder_from(const DecoderSpec& spec, HfConfig config,
                                                      std::shared_ptr<const void> file, DecoderWeights weights,
                                                      const ComputeOptions& compute);
/// A GGUF file on the shared decoder: metadata -> HfConfig, llama.cpp tensor names -> DecoderWeights. Every
/// architecture but plain llama on the CPU (arch/llama.cpp is faster there): qwen2, qwen3, gemma, gemma2, gemma3,
/// phi3, llama with experts (Mixtral), and on a device llama too (Q/K rows un-permuted for rotate_half RoPE).
Result<std::unique_ptr<CausalLm>> create_gguf_decoder(GgufFile file, const ComputeOptions& compute);

}  // namespace podserve
