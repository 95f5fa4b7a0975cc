// A build without CUDA: the probe says so, and a CUDA model cannot be made.
#include "model/device/cuda_model.h"
#include "model/device/device_choice.h"
#include "model/device/device_limits.h"

namespace podserve {

CudaAvailability probe_cuda() { return {}; }

Result<std::unique_ptr<CausalLm>> create_cuda_decoder(const DecoderSpec&, HfConfig, std::shared_ptr<const void>,
                                                      DecoderWeights, const ComputeOptions&) {
  return unimplemented("this podserve was built without CUDA: the model cannot run on --device cuda");
}

Result<DeviceLimits> measure_device_limits(int) { return unimplemented("this podserve was built without CUDA"); }

}  // namespace podserve
