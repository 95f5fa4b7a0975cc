// --device as vLLM: cpu, cuda, or auto (CUDA when this binary was built with it and a device is visible). The
// probe of the CUDA runtime lives in model/cuda/ (a build without CUDA answers "not built"); choosing is plain
// logic over what the probe found, so it is tested without a GPU.
#pragma once

#include <string>

#include "base/status.h"
#include "model/device/compute_options.h"

namespace podserve {

/// What the CUDA runtime reported. `built` is false in a binary without CUDA (then nothing else is set).
struct CudaAvailability {
  bool built = false;
  int device_count = 0;
  std::string error;  // why no device is usable (the runtime's error string), when device_count == 0
};

/// Asks the CUDA runtime how many devices are visible. Loads and initializes the runtime: call it only when
/// the device is auto or cuda, so `--device cpu` never touches a driver.
CudaAvailability probe_cuda();

/// The device to run on (kCpu or kCuda), or InvalidArgument naming DEVICE / --device when cuda was asked for and
/// cannot be had.
Result<Device> choose_device(Device requested, const CudaAvailability& cuda);

/// probe_cuda() (only when needed) and choose_device(), logging the choice and why.
Result<Device> resolve_device(Device requested);

}  // namespace podserve
