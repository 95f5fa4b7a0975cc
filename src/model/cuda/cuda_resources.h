// Owners of CUDA resources: device memory, pinned host memory, a stream, an event. Each frees what it holds in
// its destructor (errors there are logged, not thrown) and is move-only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "base/status.h"

namespace podserve::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// cudaMalloc of `bytes`; ResourceExhausted naming `what` when the device has no room.
  static Result<DeviceBuffer> allocate(size_t bytes, const char* what);
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  ~DeviceBuffer();
  uint8_t* data() const { return static_cast<uint8_t*>(ptr_); }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  /// cudaHostAlloc (page-locked, so copies from it run at full speed and asynchronously).
  static Result<PinnedBuffer> allocate(size_t bytes, const char* what);
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  ~PinnedBuffer();
  uint8_t* data() const { return static_cast<uint8_t*>(ptr_); }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class Stream {
 public:
  Stream() = default;
  /// A non-blocking stream (it does not synchronize with the legacy default stream).
  static Result<Stream> create();
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept;
  ~Stream();
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() = default;
  /// `timing` events can measure elapsed time; others are cheaper (synchronization only).
  static Result<Event> create(bool timing = false);
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept;
  ~Event();
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

/// Bytes free and in total on the current device (cudaMemGetInfo).
struct DeviceMemory {
  size_t free = 0, total = 0;
};
Result<DeviceMemory> device_memory();

}  // namespace podserve::cuda
