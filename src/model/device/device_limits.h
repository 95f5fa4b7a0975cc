// The physical limits `podserve bench` reports its GPU figures against: the card's datasheet figures (the
// issue's targets name them: HBM bandwidth, dense bf16 tensor-core rate) and the same two measured on the card
// in the same run (a device-to-device copy, bytes read plus written; an 8192^3 bf16 cuBLASLt GEMM on random data).
#pragma once

#include <string>

#include "base/status.h"

namespace podserve {

struct DeviceLimits {
  std::string name;              // "NVIDIA H100 80GB HBM3"
  double datasheet_bandwidth = 0;  // bytes/s (0: a card the table does not know)
  double datasheet_bf16_flops = 0; // dense bf16 FLOP/s
  double copy_bandwidth = 0;     // measured, bytes/s
  double gemm_bf16_flops = 0;    // measured, FLOP/s
};

/// The datasheet figures of a card by its CUDA name (H100 SXM/PCIe, H200, A100, L40S, L4), else zeros.
void datasheet_limits(const std::string& name, DeviceLimits* out);

/// Measures device `ordinal` (about a second). Unimplemented in a build without CUDA.
Result<DeviceLimits> measure_device_limits(int ordinal);

}  // namespace podserve
