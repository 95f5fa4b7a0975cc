// The card's two ceilings, measured as METHOD.md says: a large device-to-device copy (bytes read plus written)
// and a large bf16 matrix product through cuBLASLt on random data, each timed with events after a warm-up, the
// best of several runs.
#include "model/device/device_limits.h"

#include <cublasLt.h>

#include <algorithm>

#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_device.h"
#include "model/cuda/cuda_resources.h"
#include "model/cuda/dummy_fill.h"

namespace podserve {
namespace {

using cuda::DeviceBuffer;
using cuda::Event;

Status cublas(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return ok_status();
  return internal_error(std::string(what) + " failed: " + cublasLtGetStatusName(st));
}

// Best seconds of `reps` runs of `fn` (enqueued on `stream`), after one warm-up run.
template <typename Fn>
Result<double> best_of(int reps, cudaStream_t stream, Fn fn) {
  PODSERVE_ASSIGN_OR_RETURN(Event start, Event::create(true));
  PODSERVE_ASSIGN_OR_RETURN(Event stop, Event::create(true));
  PODSERVE_RETURN_IF_ERROR(fn());
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    PODSERVE_CUDA_TRY(cudaEventRecord(start.get(), stream));
    PODSERVE_RETURN_IF_ERROR(fn());
    PODSERVE_CUDA_TRY(cudaEventRecord(stop.get(), stream));
    PODSERVE_CUDA_TRY(cudaEventSynchronize(stop.get()));
    float ms = 0;
    PODSERVE_CUDA_TRY(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    best = std::min(best, ms / 1e3);
  }
  return best;
}

Result<double> copy_bandwidth(cudaStream_t stream) {
  const size_t bytes = size_t{1} << 30;  // 1 GiB each way: far beyond the 50-60 MB L2
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer a, DeviceBuffer::allocate(bytes, "copy bandwidth"));
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(bytes, "copy bandwidth"));
  PODSERVE_RETURN_IF_ERROR(cuda::fill_dummy(a.data(), DType::kF32, 0, static_cast<int64_t>(bytes / 4), 1, stream));
  PODSERVE_ASSIGN_OR_RETURN(double secs, best_of(10, stream, [&]() {
    return cuda::cuda_status(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream), "copy");
  }));
  return 2.0 * static_cast<double>(bytes) / secs;
}

Result<double> gemm_bf16_flops(cudaStream_t stream) {
  constexpr int64_t n = 8192;
  const size_t bytes = static_cast<size_t>(n * n) * 2;
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer a, DeviceBuffer::allocate(bytes, "GEMM peak"));
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(bytes, "GEMM peak"));
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer d, DeviceBuffer::allocate(bytes, "GEMM peak"));
  PODSERVE_ASSIGN_OR_RETURN(DeviceBuffer ws, DeviceBuffer::allocate(size_t{32} << 20, "GEMM peak workspace"));
  PODSERVE_RETURN_IF_ERROR(cuda::fill_dummy(a.data(), DType::kBF16, 0, n * n, 2, stream));
  PODSERVE_RETURN_IF_ERROR(cuda::fill_dummy(b.data(), DType::kBF16, 0, n * n, 3, stream));
  cublasLtHandle_t handle = nullptr;
  PODSERVE_RETURN_IF_ERROR(cublas(cublasLtCreate(&handle), "cublasLtCreate"));
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layout = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  auto cleanup = [&]() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (layout) cublasLtMatrixLayoutDestroy(layout);
    if (desc) cublasLtMatmulDescDestroy(desc);
    cublasLtDestroy(handle);
  };
  auto run = [&]() -> Result<double> {
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate"));
    const cublasOperation_t t = CUBLAS_OP_T;
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "TRANSA"));
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatrixLayoutCreate(&layout, CUDA_R_16BF, n, n, n), "MatrixLayoutCreate"));
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatmulPreferenceCreate(&pref), "PreferenceCreate"));
    const size_t ws_bytes = ws.size();
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                         &ws_bytes, sizeof ws_bytes), "workspace"));
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    PODSERVE_RETURN_IF_ERROR(cublas(cublasLtMatmulAlgoGetHeuristic(handle, desc, layout, layout, layout, layout, pref, 1,
                                                                   &heur, &found), "AlgoGetHeuristic"));
    if (found == 0) return internal_error("cuBLASLt has no bf16 GEMM algorithm for 8192^3");
    const float alpha = 1.0f, beta = 0.0f;
    PODSERVE_ASSIGN_OR_RETURN(double secs, best_of(10, stream, [&]() {
      return cublas(cublasLtMatmul(handle, desc, &alpha, a.data(), layout, b.data(), layout, &beta, d.data(), layout,
                                   d.data(), layout, &heur.algo, ws.data(), ws.size(), stream), "cublasLtMatmul");
    }));
    return 2.0 * n * n * n / secs;
  };
  Result<double> flops = run();
  cleanup();
  return flops;
}

}  // namespace

Result<DeviceLimits> measure_device_limits(int ordinal) {
  PODSERVE_ASSIGN_OR_RETURN(cuda::DeviceInfo info, cuda::select_device(ordinal));
  DeviceLimits out;
  out.name = info.name;
  datasheet_limits(info.name, &out);
  PODSERVE_ASSIGN_OR_RETURN(cuda::Stream stream, cuda::Stream::create());
  PODSERVE_ASSIGN_OR_RETURN(out.copy_bandwidth, copy_bandwidth(stream.get()));
  PODSERVE_ASSIGN_OR_RETURN(out.gemm_bf16_flops, gemm_bf16_flops(stream.get()));
  return out;
}

}  // namespace podserve
