// A Hugging Face model directory's config.json (and generation_config.json), read into the fields the shared
// decoder needs. Both transformers spellings are accepted: v4's top-level rope_theta + rope_scaling and v5's
// rope_parameters (also v5's per-layer-type form of Gemma 3).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/causal_lm.h"

namespace podserve {

enum class RopeType { kDefault, kLinear, kDynamic, kYarn, kLlama3 };

struct RopeParams {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  double original_max_pos = 0;                           // llama3, yarn (0 = max_position_embeddings)
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  double attention_factor = 0.0;                         // yarn; 0 = derived from factor
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn (DeepSeek form)
  bool truncate = true;                                  // yarn
  std::vector<float> freq_divisors;  // GGUF llama3 rope_freqs.weight: inv_freq[i] /= freq_divisors[i] (else empty)
};

struct HfConfig {
  ModelConfig model;       // architecture = model_type
  std::string activation;  // "silu" or "gelu_pytorch_tanh"
  bool attention_bias = false;  // q, k, v and o biases (Llama's flag)
  bool mlp_bias = false;
  std::vector<bool> sliding;    // per layer: sliding-window attention
  int sliding_window = 0;
  RopeParams rope;        // full-attention layers
  RopeParams rope_local;  // sliding layers (differs in Gemma 3)
  double partial_rotary_factor = 1.0;
  double query_pre_attn_scalar = 0.0;  // Gemma 2/3 attention scale = this^-0.5 (0: head_dim)
  double attn_softcap = 0.0, final_softcap = 0.0;
  int n_experts = 0, experts_per_tok = 0;
  int max_position_embeddings = 0;
  std::string torch_dtype;  // the stored precision: `dtype` (transformers v5) or `torch_dtype` (v4); "" if absent
};

/// Reads `dir`/config.json (and generation_config.json if present). Every number is range-checked; a missing
/// required field, a wrong type or an unsupported rope type is an error naming the field.
Result<HfConfig> read_hf_config(const std::string& dir);

/// The inverse frequencies [rot_dim / 2] of a RoPE variant as transformers computes them (float32), and the
/// factor that scales cos and sin (yarn). Dynamic NTK uses the frequencies of sequences up to
/// max_position_embeddings (HF's before a sequence grows past it).
std::vector<float> rope_inv_freq(const RopeParams& p, int rot_dim, int max_position_embeddings, float* attn_factor);

}  // namespace podserve
