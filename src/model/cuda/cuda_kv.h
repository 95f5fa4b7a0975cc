// The paged K/V cache in device memory: a KvPool whose KvMemory is one cudaMalloc'd block. The engine's block
// copies (fork's copy-on-write) become device-to-device copies on the model's stream, so they are ordered before
// the next forward pass.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

#include "model/causal_lm.h"
#include "model/cuda/cuda_resources.h"

namespace podserve::cuda {

class DeviceKvMemory final : public KvMemory {
 public:
  DeviceKvMemory(DeviceBuffer buffer, cudaStream_t stream) : buffer_(std::move(buffer)), stream_(stream) {}
  uint8_t* data() override { return buffer_.data(); }
  bool on_host() const override { return false; }
  Status copy(std::span<const KvByteCopy> copies) override;

 private:
  DeviceBuffer buffer_;
  cudaStream_t stream_;
};

/// A device pool of `num_blocks` blocks (one allocation); ResourceExhausted when the device has no room.
Result<KvPool> create_device_kv_pool(int n_layers, int num_blocks, int block_size, int kv_dim, KvDType dtype,
                                     cudaStream_t stream);

}  // namespace podserve::cuda
