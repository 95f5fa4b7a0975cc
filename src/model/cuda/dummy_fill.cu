#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "model/cuda/dummy_fill.h"
#include "model/dummy_hash.h"

namespace podserve::cuda {
namespace {

template <typename T>
__global__ void fill_kernel(T* dst, uint64_t first, int64_t n, uint64_t stream_key) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float v = dummy::value(stream_key, first + static_cast<uint64_t>(i));
    if constexpr (sizeof(T) == 4) {
      dst[i] = v;
    } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      dst[i] = __float2bfloat16_rn(v);
    } else {
      dst[i] = __float2half_rn(v);
    }
  }
}

}  // namespace

Status fill_dummy(void* dst, DType type, uint64_t first, int64_t n, uint64_t stream_key, cudaStream_t stream) {
  if (n <= 0) return ok_status();
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535));
  switch (type) {
    case DType::kF32: fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<float*>(dst), first, n, stream_key); break;
    case DType::kBF16: fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<__nv_bfloat16*>(dst), first, n, stream_key); break;
    case DType::kF16: fill_kernel<<<blocks, threads, 0, stream>>>(static_cast<__half*>(dst), first, n, stream_key); break;
    default: return unimplemented(std::string("dummy weights of type ") + dtype_name(type));
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return internal_error(std::string("fill_dummy kernel launch failed: ") + cudaGetErrorString(err));
  return ok_status();
}

}  // namespace podserve::cuda
