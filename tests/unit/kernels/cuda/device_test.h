// What the device kernel tests share: device buffers (host memory in the emulated build, cudaMalloc on a GPU),
// the sync that surfaces kernel faults, random inputs and the error measure against ref::.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/cuda/device_ops.h"

#if !defined(PODSERVE_SIMT_EMU)
#include <cuda_runtime.h>
#endif

namespace podserve::kernels::cuda::testing {

/// Waits for the device and fails the test on a kernel fault (a no-op in the emulated build, which is synchronous).
inline void sync() {
#if !defined(PODSERVE_SIMT_EMU)
  const cudaError_t err = cudaDeviceSynchronize();
  ASSERT_EQ(err, cudaSuccess) << cudaGetErrorString(err);
#endif
}

/// n elements of T on the device. Outputs start as NaN bits (0xFF bytes), so an element the kernel leaves
/// unwritten fails the comparison.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
#if defined(PODSERVE_SIMT_EMU)
    host_.assign(bytes(), 0xFF);
#else
    EXPECT_EQ(cudaMalloc(&dev_, bytes() == 0 ? 16 : bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemset(dev_, 0xFF, bytes()), cudaSuccess);
#endif
  }
  explicit DeviceBuffer(const std::vector<T>& v) : DeviceBuffer(v.size()) { upload(v); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
#if !defined(PODSERVE_SIMT_EMU)
    cudaFree(dev_);
#endif
  }

  T* get() {
#if defined(PODSERVE_SIMT_EMU)
    return reinterpret_cast<T*>(host_.data());
#else
    return static_cast<T*>(dev_);
#endif
  }
  size_t size() const { return n_; }

  void upload(const std::vector<T>& v) {
    ASSERT_EQ(v.size(), n_);
#if defined(PODSERVE_SIMT_EMU)
    std::memcpy(host_.data(), v.data(), bytes());
#else
    ASSERT_EQ(cudaMemcpy(dev_, v.data(), bytes(), cudaMemcpyHostToDevice), cudaSuccess);
#endif
  }
  std::vector<T> download() {
    std::vector<T> v(n_);
    sync();
#if defined(PODSERVE_SIMT_EMU)
    std::memcpy(v.data(), host_.data(), bytes());
#else
    EXPECT_EQ(cudaMemcpy(v.data(), dev_, bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
#endif
    return v;
  }

 private:
  size_t bytes() const { return n_ * sizeof(T); }
  size_t n_;
#if defined(PODSERVE_SIMT_EMU)
  std::vector<uint8_t, std::allocator<uint8_t>> host_;
#else
  void* dev_ = nullptr;
#endif
};

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

/// max |ours - ref| / max(max |ref|, tiny); NaN anywhere in ours (an unwritten or broken output) gives +inf.
inline double rel_error(const std::vector<float>& ours, const std::vector<float>& ref) {
  EXPECT_EQ(ours.size(), ref.size());
  double worst = 0.0, scale = 1e-30;
  for (size_t i = 0; i < ref.size() && i < ours.size(); ++i) {
    if (!std::isfinite(ours[i])) return INFINITY;
    worst = std::max(worst, std::fabs(static_cast<double>(ours[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  return worst / scale;
}

}  // namespace podserve::kernels::cuda::testing
