// Maps an architecture name to the code that builds it: the one place a new architecture is registered.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/decoder.h"
#include "model/device/compute_options.h"
#include "model/hf_config.h"

namespace podserve {

/// Builds the model for the file's `general.architecture`, taking ownership of the file (weights stay mapped),
/// on the device `compute` names. An unsupported architecture is an error naming it and listing the supported ones.
Result<std::unique_ptr<CausalLm>> create_causal_lm(GgufFile file, const ComputeOptions& compute);

/// Builds the model of a Hugging Face directory by config.json's model_type (weights stay mapped).
/// An unsupported model_type is an error naming it and listing the supported ones.
Result<std::unique_ptr<CausalLm>> create_hf_causal_lm(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                      const ComputeOptions& compute);

/// Comma-separated list of supported architecture names, for messages.
std::string supported_architectures();

}  // namespace podserve
