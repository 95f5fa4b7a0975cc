// Streams host bytes (the weights in the memory-mapped files) to device memory through a few pinned staging
// buffers: while the device copies buffer i, the host fills buffer i + 1 (memcpy from the page cache, split over
// threads), and a buffer is refilled only after its previous copy has finished. The device side is an interface
// so the schedule is tested on the host; the CUDA model implements it with cudaMemcpyAsync on one stream and an
// event per buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "model/device/weight_plan.h"

namespace podserve {

class ThreadPool;

/// The device end of the staging pipeline.
class StagingTarget {
 public:
  virtual ~StagingTarget() = default;
  /// Blocks until every copy issued from `buffer` has finished reading it.
  virtual Status wait(int buffer) = 0;
  /// Starts copying `bytes` at `buffer_offset` of staging buffer `buffer` to `device_offset` of the weights block.
  virtual Status copy(int buffer, size_t buffer_offset, size_t device_offset, size_t bytes) = 0;
  /// Marks the end of the copies issued from `buffer` since its last wait (what the next wait waits for).
  virtual Status issued(int buffer) = 0;
  /// Blocks until every copy has finished.
  virtual Status finish() = 0;
};

struct StagingStats {
  size_t bytes = 0;
  int fills = 0;    // buffer fills (each followed by its copies)
  int copies = 0;   // device copies issued
};

/// Copies every upload through `buffers` (each `buffer_bytes` long; at least two for overlap). Uploads larger than
/// a buffer are split; consecutive small ones share a fill, and pieces adjacent on the device become one copy.
/// `pool` (may be null) splits each fill's host memcpy.
Result<StagingStats> stream_uploads(std::span<const WeightUpload> uploads, std::span<uint8_t* const> buffers,
                                    size_t buffer_bytes, StagingTarget& target, ThreadPool* pool);

}  // namespace podserve
