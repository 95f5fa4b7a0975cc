#include "model/device/weight_staging.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"

namespace podserve {
namespace {

struct Piece {
  const uint8_t* src;
  size_t buffer_offset, device_offset, bytes;
};

// Host copies of one fill, split over the pool in ~1 MiB slices so a few large pieces still use every thread.
void fill_buffer(uint8_t* buffer, const std::vector<Piece>& pieces, ThreadPool* pool) {
  constexpr size_t kSlice = size_t{1} << 20;
  std::vector<Piece> slices;
  for (const Piece& p : pieces) {
    for (size_t done = 0; done < p.bytes; done += kSlice) {
      const size_t n = std::min(kSlice, p.bytes - done);
      slices.push_back({p.src + done, p.buffer_offset + done, p.device_offset + done, n});
    }
  }
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Piece& s = slices[static_cast<size_t>(i)];
      std::memcpy(buffer + s.buffer_offset, s.src, s.bytes);
    }
  };
  if (pool != nullptr && slices.size() > 1) {
    pool->parallel_for(static_cast<int64_t>(slices.size()), run);
  } else {
    run(0, static_cast<int64_t>(slices.size()));
  }
}

}  // namespace

Result<StagingStats> stream_uploads(std::span<const WeightUpload> uploads, std::span<uint8_t* const> buffers,
                                    size_t buffer_bytes, StagingTarget& target, ThreadPool* pool) {
  if (buffers.empty() || buffer_bytes == 0) return invalid_argument("staging: no buffers");
  StagingStats stats;
  const int n_buffers = static_cast<int>(buffers.size());
  int current = 0;
  std::vector<Piece> pieces;
  size_t used = 0;
  std::vector<bool> in_flight(static_cast<size_t>(n_buffers), false);

  // Fills the current buffer with `pieces`, issues its copies (adjacent device ranges merged) and moves on.
  auto flush = [&]() -> Status {
    if (pieces.empty()) return ok_status();
    fill_buffer(buffers[static_cast<size_t>(current)], pieces, pool);
    ++stats.fills;
    size_t start = 0;
    while (start < pieces.size()) {
      size_t end = start + 1;
      size_t bytes = pieces[start].bytes;
      while (end < pieces.size() && pieces[end].device_offset == pieces[start].device_offset + bytes &&
             pieces[end].buffer_offset == pieces[start].buffer_offset + bytes) {
        bytes += pieces[end].bytes;
        ++end;
      }
      PODSERVE_RETURN_IF_ERROR(target.copy(current, pieces[start].buffer_offset, pieces[start].device_offset, bytes));
      ++stats.copies;
      start = end;
    }
    PODSERVE_RETURN_IF_ERROR(target.issued(current));
    in_flight[static_cast<size_t>(current)] = true;
    current = (current + 1) % n_buffers;
    pieces.clear();
    used = 0;
    // The next buffer may still be read by the device: wait before the host writes into it.
    if (in_flight[static_cast<size_t>(current)]) {
      PODSERVE_RETURN_IF_ERROR(target.wait(current));
      in_flight[static_cast<size_t>(current)] = false;
    }
    return ok_status();
  };

  for (const WeightUpload& u : uploads) {
    if (u.src == nullptr) return invalid_argument("staging: an upload has no source");
    size_t done = 0;
    while (done < u.bytes) {
      if (used == buffer_bytes) PODSERVE_RETURN_IF_ERROR(flush());
      const size_t n = std::min(buffer_bytes - used, u.bytes - done);
      pieces.push_back({u.src + done, used, u.offset + done, n});
      used += n;
      done += n;
      stats.bytes += n;
    }
  }
  PODSERVE_RETURN_IF_ERROR(flush());
  PODSERVE_RETURN_IF_ERROR(target.finish());
  return stats;
}

}  // namespace podserve
