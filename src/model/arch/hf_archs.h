// Architectures read from Hugging Face model directories (config.json + safetensors), one file each, all on the
// shared decoder (model/decoder.h). Registered in model/registry.cpp by config.json's model_type.
#pragma once

#include <memory>

#include "base/status.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/decoder.h"
#include "model/hf_config.h"

namespace podserve {

using HfFactory = Result<std::unique_ptr<CausalLm>> (*)(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                        const ComputeOptions& compute);

Result<std::unique_ptr<CausalLm>> create_hf_llama(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);    // llama, mistral
Result<std::unique_ptr<CausalLm>> create_hf_qwen2(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_qwen3(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_gemma(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_gemma2(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_gemma3(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_phi3(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);
Result<std::unique_ptr<CausalLm>> create_hf_mixtral(HfConfig, SafetensorsModel, WeightDType, const ComputeOptions&);

}  // namespace podserve
