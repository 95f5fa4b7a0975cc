#include "model/cuda/cuda_check.h"

#include <cstdlib>
#include <strings.h>

#include <cstring>

namespace podserve::cuda {

Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ok_status();
  std::string message = std::string(what) + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) return resource_exhausted(std::move(message));
  return internal_error(std::move(message));
}

bool sync_check_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("PODSERVE_CUDA_SYNC_CHECK");
    return v != nullptr && (std::strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
  }();
  return enabled;
}

Status check_stage(cudaStream_t stream, const char* stage) {
  if (sync_check_enabled()) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    PODSERVE_CUDA_TRY(cudaStreamIsCapturing(stream, &capture));
    // A stream being captured cannot be synchronized; its launches are checked when the graph runs.
    if (capture == cudaStreamCaptureStatusNone) {
      Status s = cuda_status(cudaStreamSynchronize(stream), stage);
      if (!s.ok()) return s;
    }
  }
  const cudaError_t err = cudaPeekAtLastError();
  if (err != cudaSuccess) return cuda_status(cudaGetLastError(), stage);
  return ok_status();
}

}  // namespace podserve::cuda
