#include "model/device/bump_arena.h"

namespace podserve {

Result<uintptr_t> BumpArena::allocate(size_t bytes, const char* what) {
  if (bytes > kUnbounded - kAlignment) return resource_exhausted(std::string("arena: ") + what + " is too large");
  const size_t size = align_up(bytes);
  if (size > capacity_ - used_) {
    return resource_exhausted(std::string("activation arena exhausted: ") + what + " needs " + std::to_string(size) +
                              " bytes, " + std::to_string(capacity_ - used_) + " of " + std::to_string(capacity_) +
                              " are free");
  }
  const uintptr_t p = base_ + used_;
  used_ += size;
  if (used_ > peak_) peak_ = used_;
  return p;
}

}  // namespace podserve
