// The CUDA device a model runs on: selected once, described once in the start-up log.
#pragma once

#include <string>

#include "base/status.h"

namespace podserve::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  size_t total_bytes = 0, free_bytes = 0;
  size_t l2_bytes = 0;
  std::string describe() const;  // "NVIDIA H100 80GB HBM3, compute capability 9.0, 132 SMs, 79.19 GiB (78.60 GiB free)"
};

/// Makes `ordinal` the calling thread's device (creating its context) and describes it. An error names
/// CUDA_VISIBLE_DEVICES and the runtime's message when the device cannot be used.
Result<DeviceInfo> select_device(int ordinal);

}  // namespace podserve::cuda
