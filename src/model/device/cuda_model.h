// The CUDA backend's entry point: a CausalLm computing on a CUDA device over weights the shared decoder bound
// (model/decoder.h). Defined in model/cuda/ in a CUDA build; a build without CUDA answers with an error.
#pragma once

#include <memory>

#include "base/status.h"
#include "model/causal_lm.h"
#include "model/decoder.h"
#include "model/device/compute_options.h"
#include "model/hf_config.h"

namespace podserve {

/// Uploads `weights` (host views that `file` keeps alive) to the device `compute.cuda` names and returns the model.
/// Unimplemented in a build without CUDA; ResourceExhausted naming GPU_MEMORY_UTILIZATION when they do not fit.
Result<std::unique_ptr<CausalLm>> create_cuda_decoder(const DecoderSpec& spec, HfConfig config,
                                                      std::shared_ptr<const void> file, DecoderWeights weights,
                                                      const ComputeOptions& compute);

}  // namespace podserve
