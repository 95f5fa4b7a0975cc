#include "model/device/device_limits.h"

namespace podserve {

void datasheet_limits(const std::string& name, DeviceLimits* out) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  struct Card {
    const char* key;
    const char* also;  // a second substring that must be there too ("" = none)
    double bandwidth, bf16;
  };
  // NVIDIA datasheets (gpu.md §7); dense bf16, i.e. without 2:4 sparsity. Most specific names first.
  static constexpr Card kCards[] = {
      {"H200", "", 4.8e12, 989e12},     {"H100", "PCIe", 2.0e12, 756e12}, {"H100", "NVL", 3.9e12, 835e12},
      {"H100", "", 3.35e12, 989e12},    {"A100", "40GB", 1.555e12, 312e12}, {"A100", "", 2.039e12, 312e12},
      {"L40S", "", 0.864e12, 362e12},   {"L4", "", 0.3e12, 121e12},
  };
  for (const Card& c : kCards) {
    if (has(c.key) && (c.also[0] == '\0' || has(c.also))) {
      out->datasheet_bandwidth = c.bandwidth;
      out->datasheet_bf16_flops = c.bf16;
      return;
    }
  }
}

}  // namespace podserve
