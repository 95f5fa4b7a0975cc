#include "model/registry.h"

#include "model/arch/hf_archs.h"
#include "model/arch/llama.h"

namespace podserve {
namespace {
struct ArchEntry {
  const char* name;
  Result<std::unique_ptr<CausalLm>> (*create)(GgufFile file, const ComputeOptions& compute);
};
// GGUF `llama` holds Llama, Mistral and SmolLM2 (on the CPU the fast path, arch/llama.cpp) and Mixtral (experts:
// the shared decoder's MoE). A device runs them all on the shared decoder.
Result<std::unique_ptr<CausalLm>> create_gguf_llama(GgufFile file, const ComputeOptions& compute) {
  if (file.find_tensor("blk.0.ffn_gate_exps.weight") != nullptr || compute.device != Device::kCpu) {
    return create_gguf_decoder(std::move(file), compute);
  }
  return create_llama(std::move(file), compute.num_threads);
}

// The other GGUF architectures run on the shared decoder (decoder_gguf.cpp).
constexpr ArchEntry kArchitectures[] = {
    {"llama", &create_gguf_llama},     {"qwen2", &create_gguf_decoder},  {"qwen3", &create_gguf_decoder},
    {"gemma", &create_gguf_decoder},   {"gemma2", &create_gguf_decoder}, {"gemma3", &create_gguf_decoder},
    {"phi3", &create_gguf_decoder},
};
// Hugging Face directories, by config.json's model_type.
struct HfArchEntry {
  const char* model_type;
  HfFactory create;
};
constexpr HfArchEntry kHfArchitectures[] = {
    {"llama", &create_hf_llama},   {"mistral", &create_hf_llama}, {"qwen2", &create_hf_qwen2},
    {"qwen3", &create_hf_qwen3},   {"gemma", &create_hf_gemma},   {"gemma2", &create_hf_gemma2},
    {"gemma3_text", &create_hf_gemma3}, {"phi3", &create_hf_phi3}, {"mixtral", &create_hf_mixtral},
};

std::string supported_hf_architectures() {
  std::string out;
  for (const auto& a : kHfArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.model_type);
  return out;
}
}  // namespace

std::string supported_architectures() {
  std::string out;
  for (const auto& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return "GGUF: " + out + "; Hugging Face model_type: " + supported_hf_architectures();
}

Result<std::unique_ptr<CausalLm>> create_hf_causal_lm(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                      const ComputeOptions& compute) {
  const std::string type = config.model.architecture;
  for (const auto& a : kHfArchitectures) {
    if (type == a.model_type) return a.create(std::move(config), std::move(weights), dtype, compute);
  }
  return unimplemented("unsupported architecture '" + type + "' (supported: " + supported_architectures() + ")");
}

Result<std::unique_ptr<CausalLm>> create_causal_lm(GgufFile file, const ComputeOptions& compute) {
  PODSERVE_ASSIGN_OR_RETURN(std::string arch, file.get_string("general.architecture"));
  for (const auto& a : kArchitectures) {
    if (arch == a.name) return a.create(std::move(file), compute);
  }
  return unimplemented("unsupported architecture '" + arch + "' (supported: " + supported_architectures() + ")");
}

}  // namespace podserve
