// Batched LoRA on the CPU: the tokens split over the pool, each through ref::lora_bgmv's loop, so a token gets the
// same bits whatever its batch, thread split or ISA (the shrink and expand are rank-sized: small next to x·Wᵀ).
#include "base/thread_pool.h"
#include "kernels/lora_ops.h"

namespace podserve::kernels::cpu {

void lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t in, float* y, int64_t out,
               int64_t n, ThreadPool* pool) {
  auto run = [&](int64_t begin, int64_t end) {
    ref::lora_bgmv(slots, slot_of_token + begin, x + begin * in, in, y + begin * out, out, end - begin);
  };
  if (pool == nullptr || n < 2) {
    run(0, n);
    return;
  }
  pool->parallel_for(n, run);
}

}  // namespace podserve::kernels::cpu
