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
                                                        int num_threads);

Result<std::unique_ptr<CausalLm>> create_hf_llama(HfConfig, SafetensorsModel, WeightDType, int);    // llama, mistral
Result<std::unique_ptr<CausalLm>> create_hf_qwen2(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_qwen3(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_gemma(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_gemma2(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_gemma3(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_phi3(HfConfig, SafetensorsModel, WeightDType, int);
Result<std::unique_ptr<CausalLm>> create_hf_mixtral(HfConfig, SafetensorsModel, WeightDType, int);

}  // namespace podserve
