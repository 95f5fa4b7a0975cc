#include "model/cuda/cuda_resources.h"

#include <string>

#include "base/log.h"
#include "model/cuda/cuda_check.h"

namespace podserve::cuda {
namespace {

void log_if_error(cudaError_t err, const char* what) {
  if (err != cudaSuccess) PODSERVE_LOG(kWarning) << what << " failed: " << cudaGetErrorString(err);
}

std::string gib(size_t bytes) { return std::to_string(static_cast<double>(bytes) / (1u << 30)).substr(0, 5) + " GiB"; }

}  // namespace

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes, const char* what) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  const cudaError_t err = cudaMalloc(&b.ptr_, bytes);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls do not report it
    b.ptr_ = nullptr;
    return cuda_status(err, (std::string("cudaMalloc of ") + gib(bytes) + " for " + what).c_str());
  }
  b.bytes_ = bytes;
  return b;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) log_if_error(cudaFree(ptr_), "cudaFree");
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) log_if_error(cudaFree(ptr_), "cudaFree");
}

Result<PinnedBuffer> PinnedBuffer::allocate(size_t bytes, const char* what) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  const cudaError_t err = cudaHostAlloc(&b.ptr_, bytes, cudaHostAllocDefault);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    b.ptr_ = nullptr;
    return cuda_status(err, (std::string("cudaHostAlloc of ") + gib(bytes) + " for " + what).c_str());
  }
  b.bytes_ = bytes;
  return b;
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) log_if_error(cudaFreeHost(ptr_), "cudaFreeHost");
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_ != nullptr) log_if_error(cudaFreeHost(ptr_), "cudaFreeHost");
}

Result<Stream> Stream::create() {
  Stream s;
  PODSERVE_CUDA_TRY(cudaStreamCreateWithFlags(&s.s_, cudaStreamNonBlocking));
  return s;
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) log_if_error(cudaStreamDestroy(s_), "cudaStreamDestroy");
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

Stream::~Stream() {
  if (s_ != nullptr) log_if_error(cudaStreamDestroy(s_), "cudaStreamDestroy");
}

Result<Event> Event::create(bool timing) {
  Event e;
  PODSERVE_CUDA_TRY(cudaEventCreateWithFlags(&e.e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  return e;
}

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (e_ != nullptr) log_if_error(cudaEventDestroy(e_), "cudaEventDestroy");
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

Event::~Event() {
  if (e_ != nullptr) log_if_error(cudaEventDestroy(e_), "cudaEventDestroy");
}

Result<DeviceMemory> device_memory() {
  DeviceMemory m;
  PODSERVE_CUDA_TRY(cudaMemGetInfo(&m.free, &m.total));
  return m;
}

}  // namespace podserve::cuda
