#include "model/cuda/weight_upload.h"

#include <array>
#include <chrono>

#include "kernels/cuda/device_ops.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/dummy_fill.h"
#include "model/device/weight_staging.h"

namespace podserve::cuda {
namespace {

// Four 32 MiB pinned buffers: the host fills one while the device drains the others.
constexpr int kStagingBuffers = 4;
constexpr size_t kStagingBytes = size_t{32} << 20;

class CudaStagingTarget final : public StagingTarget {
 public:
  CudaStagingTarget(uint8_t* device_base, std::array<PinnedBuffer, kStagingBuffers>& buffers,
                    std::array<Event, kStagingBuffers>& events, cudaStream_t stream)
      : base_(device_base), buffers_(buffers), events_(events), stream_(stream) {}

  Status wait(int b) override { return cuda_status(cudaEventSynchronize(events_[b].get()), "cudaEventSynchronize"); }
  Status copy(int b, size_t buffer_offset, size_t device_offset, size_t bytes) override {
    PODSERVE_CUDA_TRY(cudaMemcpyAsync(base_ + device_offset, buffers_[b].data() + buffer_offset, bytes,
                                      cudaMemcpyHostToDevice, stream_));
    return ok_status();
  }
  Status issued(int b) override { return cuda_status(cudaEventRecord(events_[b].get(), stream_), "cudaEventRecord"); }
  Status finish() override { return cuda_status(cudaStreamSynchronize(stream_), "weight upload"); }

 private:
  uint8_t* base_;
  std::array<PinnedBuffer, kStagingBuffers>& buffers_;
  std::array<Event, kStagingBuffers>& events_;
  cudaStream_t stream_;
};

}  // namespace

Result<DeviceWeights> upload_weights(WeightPlan plan, cudaStream_t stream, ThreadPool* pool, UploadStats* stats) {
  const auto start = std::chrono::steady_clock::now();
  DeviceWeights w;
  Result<DeviceBuffer> block = DeviceBuffer::allocate(plan.total_bytes, "the weights");
  if (!block.ok()) {
    return Status(block.status().code(), block.status().message() +
                                             ". The weights do not fit this GPU: use a smaller or more quantized "
                                             "model, or another GPU");
  }
  w.block = std::move(block).value();
  std::array<PinnedBuffer, kStagingBuffers> buffers;
  std::array<Event, kStagingBuffers> events;
  std::array<uint8_t*, kStagingBuffers> ptrs{};
  for (int i = 0; i < kStagingBuffers; ++i) {
    PODSERVE_ASSIGN_OR_RETURN(buffers[i], PinnedBuffer::allocate(kStagingBytes, "weight staging"));
    PODSERVE_ASSIGN_OR_RETURN(events[i], Event::create());
    ptrs[i] = buffers[i].data();
  }
  CudaStagingTarget target(w.block.data(), buffers, events, stream);
  PODSERVE_ASSIGN_OR_RETURN(StagingStats staged, stream_uploads(plan.uploads, ptrs, kStagingBytes, target, pool));
  for (const WeightFill& f : plan.fills) {  // LOAD_FORMAT=dummy: made here, never in host memory
    PODSERVE_RETURN_IF_ERROR(fill_dummy(w.block.data() + f.offset, f.type, f.first, static_cast<int64_t>(f.count),
                                        f.stream, stream));
  }
  for (const TwinDequant& t : plan.twins) {
    const kernels::MatrixView src{t.type, w.block.data() + t.src_offset, t.rows, t.cols};
    PODSERVE_RETURN_IF_ERROR(kernels::cuda::dequantize_bf16(src, reinterpret_cast<uint16_t*>(w.block.data() + t.dst_offset), stream));
  }
  PODSERVE_RETURN_IF_ERROR(check_stage(stream, "bf16 twins of the quantized weights"));
  PODSERVE_CUDA_TRY(cudaStreamSynchronize(stream));
  w.plan = std::move(plan);
  if (stats != nullptr) {
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stats->bytes = staged.bytes;
    stats->staging_buffers = kStagingBuffers;
  }
  return w;
}

}  // namespace podserve::cuda
