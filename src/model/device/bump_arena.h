// A bump allocator over one block of (device) memory, for a forward pass's activations: every buffer of a step
// is carved from the front, and the whole step is released at once by reset(). The peak over all steps is exact
// (no fragmentation, no caching allocator), so a profiling step at the largest batch measures precisely what the
// arena must hold, and a CUDA graph captured for a batch size gets the same addresses at every replay, because
// the same sequence of allocations lands at the same offsets.
//
// A measuring arena (capacity kUnbounded, base 0) hands out offsets only: the profiling step runs its allocation
// sequence through it to size the real one. Addresses are never dereferenced here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "base/status.h"

namespace podserve {

class BumpArena {
 public:
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();
  static constexpr size_t kAlignment = 256;  // cudaMalloc's alignment: every buffer suits any vector load

  BumpArena() = default;
  /// `capacity` bytes from `base`. `base` must be kAlignment-aligned (cudaMalloc's are).
  BumpArena(uintptr_t base, size_t capacity) : base_(base), capacity_(capacity) {}

  /// `bytes` rounded up to kAlignment, or ResourceExhausted naming `what` and the sizes when it does not fit.
  Result<uintptr_t> allocate(size_t bytes, const char* what);
  template <typename T>
  Result<T*> allocate_array(size_t count, const char* what) {
    if (count > kUnbounded / sizeof(T)) return resource_exhausted(std::string("arena: ") + what + " is too large");
    PODSERVE_ASSIGN_OR_RETURN(uintptr_t p, allocate(count * sizeof(T), what));
    return reinterpret_cast<T*>(p);
  }

  /// Where the next allocation starts (bytes from base), to give back with reset().
  size_t mark() const { return used_; }
  void reset(size_t mark = 0) { used_ = mark < used_ ? mark : used_; }

  size_t used() const { return used_; }
  /// The most ever in use at once since construction (or reset_peak()).
  size_t peak() const { return peak_; }
  void reset_peak() { peak_ = used_; }
  size_t capacity() const { return capacity_; }
  uintptr_t base() const { return base_; }

  static size_t align_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

 private:
  uintptr_t base_ = 0;
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t peak_ = 0;
};

}  // namespace podserve
