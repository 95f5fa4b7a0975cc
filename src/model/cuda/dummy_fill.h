// LOAD_FORMAT=dummy on the device: each weight matrix filled by a kernel with the values of model/dummy_hash.h
// (the function the CPU fill uses, bit for bit), so no host memory or copy is involved.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/dtype.h"
#include "base/status.h"

namespace podserve::cuda {

/// Writes elements [first, first + n) of a tensor with dummy stream `stream_key` (dummy::tensor_stream) to `dst`
/// as `type` (F32, F16 or BF16: round to nearest even, as the CPU fill).
Status fill_dummy(void* dst, DType type, uint64_t first, int64_t n, uint64_t stream_key, cudaStream_t stream);

}  // namespace podserve::cuda
