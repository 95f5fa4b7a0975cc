// Where a model computes and how: the CPU with a thread pool, or a CUDA device with the GPU settings
// (model/device_options.h). Model factories take it; a bare thread count means the CPU.
#pragma once

#include "model/device_options.h"

namespace podserve {

class DeviceDummyTensors;

struct ComputeOptions {
  ComputeOptions() = default;
  // A thread count alone means the CPU (every factory took one before devices existed).
  ComputeOptions(int threads) : num_threads(threads) {}  // NOLINT(google-explicit-constructor)
  int num_threads = 0;          // host threads: the CPU model's compute pool, a device model's sampling pool; 0 = all
  Device device = Device::kCpu;  // resolved (device_choice.h): kCpu or kCuda, never kAuto
  int ordinal = 0;               // the CUDA device among the visible ones (CUDA_VISIBLE_DEVICES applies first)
  DeviceOptions options;         // KV_CACHE_DTYPE, GPU_MEMORY_UTILIZATION, graphs, ... (options.device: the request)
  const DeviceDummyTensors* dummy = nullptr;  // LOAD_FORMAT=dummy on a device: the placeholders the device fills
};

}  // namespace podserve
