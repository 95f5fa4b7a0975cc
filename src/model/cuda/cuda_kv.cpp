#include "model/cuda/cuda_kv.h"

#include "model/cuda/cuda_check.h"

namespace podserve::cuda {

Status DeviceKvMemory::copy(std::span<const KvByteCopy> copies) {
  for (const KvByteCopy& c : copies) {
    if (c.src + c.bytes > buffer_.size() || c.dst + c.bytes > buffer_.size()) {
      return invalid_argument("KV copy outside the device pool");
    }
    PODSERVE_CUDA_TRY(cudaMemcpyAsync(buffer_.data() + c.dst, buffer_.data() + c.src, c.bytes,
                                      cudaMemcpyDeviceToDevice, stream_));
  }
  return ok_status();
}

Result<KvPool> create_device_kv_pool(int n_layers, int num_blocks, int block_size, int kv_dim, KvDType dtype,
                                     cudaStream_t stream) {
  if (dtype == KvDType::kF32) return unimplemented("float32 K/V is not supported on the GPU (KV_CACHE_DTYPE)");
  if (num_blocks <= 0) return invalid_argument("KV pool dimensions must be positive");
  // Slots (block * block_size + offset) are int32 in the kernels.
  if (static_cast<int64_t>(num_blocks) * block_size > (int64_t{1} << 31) - 1) {
    return invalid_argument("KV pool of " + std::to_string(num_blocks) + " blocks has more slots than int32 holds");
  }
  const size_t bytes = KvPool::bytes_for(n_layers, num_blocks, block_size, kv_dim, dtype);
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer buffer, DeviceBuffer::allocate(bytes, "the KV cache"));
  return KvPool::adopt(std::make_unique<DeviceKvMemory>(std::move(buffer), stream), n_layers, num_blocks, block_size,
                       kv_dim, dtype);
}

}  // namespace podserve::cuda
