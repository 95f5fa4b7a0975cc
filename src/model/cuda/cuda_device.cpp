#include "model/cuda/cuda_device.h"

#include <cstdio>
#include <cstdlib>

#include "model/cuda/cuda_check.h"
#include "model/device/device_choice.h"

namespace podserve {

CudaAvailability probe_cuda() {
  CudaAvailability a;
  a.built = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    a.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return a;
  }
  a.device_count = count;
  if (count == 0) a.error = "no CUDA device found";
  return a;
}

namespace cuda {

std::string DeviceInfo::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, compute capability %d.%d, %d SMs, %.2f GiB (%.2f GiB free), L2 %zu MiB",
                name.c_str(), cc_major, cc_minor, sm_count, total_bytes / 1073741824.0, free_bytes / 1073741824.0,
                l2_bytes >> 20);
  return buf;
}

Result<DeviceInfo> select_device(int ordinal) {
  int count = 0;
  PODSERVE_CUDA_TRY(cudaGetDeviceCount(&count));
  if (ordinal < 0 || ordinal >= count) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    return invalid_argument("CUDA device " + std::to_string(ordinal) + " does not exist: " + std::to_string(count) +
                            " visible (CUDA_VISIBLE_DEVICES=" + (visible ? visible : "unset") + ")");
  }
  PODSERVE_CUDA_TRY(cudaSetDevice(ordinal));
  PODSERVE_CUDA_TRY(cudaFree(nullptr));  // creates the context now, so its memory shows in the free figure below
  cudaDeviceProp prop{};
  PODSERVE_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));
  DeviceInfo info;
  info.ordinal = ordinal;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  PODSERVE_CUDA_TRY(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  return info;
}

}  // namespace cuda
}  // namespace podserve
