// LoRA adapters in PEFT's format (adapter_config.json + adapter_model.safetensors) for the shared decoder's
// projections: y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ, with the scaling s (lora_alpha / r, or / sqrt(r) with use_rslora) folded into
// B at load, as vLLM does. Validation and messages follow vLLM's (vllm/lora/peft_helper.py, vllm/lora/utils.py).
// A model that keeps Q/K rows in GGUF's interleaved-RoPE order (ModelConfig::qk_rows_interleaved) gets q_proj's and
// k_proj's B rows permuted the same way at load, so its fast path adds the delta where its own rows are.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/lora_ops.h"
#include "model/causal_lm.h"

namespace podserve {

/// The linear layers of a decoder block an adapter may wrap (PEFT's module names: lora_module_name()).
enum class LoraModule : int { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kNumLoraModules = 7;
const char* lora_module_name(LoraModule m);  // "q_proj", ..., "down_proj"

/// One wrapped linear: a [rank, in] and b [out, rank] in float32 (b already times the scaling). rank 0: not wrapped.
struct LoraWeights {
  int64_t rank = 0;
  std::vector<float> a, b;
};

/// A loaded adapter. Immutable once loaded; requests share it.
struct LoraAdapter {
  std::string path;
  int rank = 0;                            // adapter_config.json's r
  uint64_t weights_hash[2] = {0, 0};       // XXH3-128 of both files' bytes: the prefix-cache key
  std::vector<std::array<LoraWeights, kNumLoraModules>> layers;
  const LoraWeights& at(int layer, LoraModule m) const { return layers[layer][static_cast<int>(m)]; }
};

/// vLLM's allowed --max-lora-rank values: 1, 8, 16, 32, 64, 128, 256, 320, 512.
bool is_allowed_max_lora_rank(int rank);

/// Reads and validates the adapter in directory `dir` for a model of `config` (every tensor's name, shape and
/// dtype; every config field vLLM checks). InvalidArgument with vLLM's message for what vLLM refuses (DoRA, bias,
/// modules_to_save, a rank above `max_lora_rank`, modules the model cannot wrap); NotFound when the files are
/// missing.
Result<std::shared_ptr<const LoraAdapter>> load_lora_adapter(const std::string& dir, const ModelConfig& config,
                                                             int max_lora_rank);

/// The kernel's view of one adapter's weights for (layer, module).
inline kernels::LoraPair lora_pair(const LoraAdapter& a, int layer, LoraModule m) {
  const LoraWeights& w = a.at(layer, m);
  return {w.a.data(), w.b.data(), w.rank};
}

/// Whether any adapter of `batch` wraps (layer, m) (false when no token runs an adapter).
bool lora_wraps(const ForwardBatch& batch, int layer, LoraModule m);

/// y += each token's adapter's s·(x·Aᵀ)·Bᵀ for module m of `layer`, one batched call for the whole batch (tokens of
/// slot -1 and adapters that do not wrap m are untouched). x: [n, in], y: [n, out] for the batch's n tokens;
/// `pairs` is the caller's reused slot table.
void add_lora(const ForwardBatch& batch, int layer, LoraModule m, const float* x, int64_t in, float* y, int64_t out,
              std::vector<kernels::LoraPair>& pairs, ThreadPool* pool);

}  // namespace podserve
