// The model's weights on the device: one allocation laid out by plan_device_weights(), filled from the host
// views through pinned staging buffers (weight_staging.h), then the bf16 twins of quantized matrices
// dequantized in place.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/ops.h"
#include "model/cuda/cuda_resources.h"
#include "model/decoder.h"
#include "model/device/weight_plan.h"

namespace podserve {
class ThreadPool;
}

namespace podserve::cuda {

struct DeviceWeights {
  DeviceBuffer block;
  WeightPlan plan;

  /// The matrix as stored (GGUF blocks or F32/F16/BF16): what the GEMV reads.
  kernels::MatrixView stored(const DeviceMatrix& m) const {
    return {m.type, block.data() + m.offset, m.rows, m.cols};
  }
  /// What the prefill GEMM reads: the bf16 twin when there is one, else the stored matrix.
  kernels::MatrixView for_gemm(const DeviceMatrix& m) const {
    if (m.bf16_offset == kNoOffset) return stored(m);
    return {DType::kBF16, block.data() + m.bf16_offset, m.rows, m.cols};
  }
  const float* vec(const DeviceVector& v) const {
    return v.present() ? reinterpret_cast<const float*>(block.data() + v.offset) : nullptr;
  }
};

struct UploadStats {
  double seconds = 0;
  size_t bytes = 0;
  int staging_buffers = 0;
};

/// Allocates plan.total_bytes on the device, streams the uploads (`pool` splits the host copies; may be null)
/// and fills the twins. ResourceExhausted naming GPU_MEMORY_UTILIZATION when the block does not fit.
Result<DeviceWeights> upload_weights(WeightPlan plan, cudaStream_t stream, ThreadPool* pool, UploadStats* stats);

}  // namespace podserve::cuda
