#include <cstddef>
#include <vector>

#include "kernels/lora_ops.h"

namespace podserve::kernels::ref {

void lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t in, float* y, int64_t out,
               int64_t n) {
  std::vector<float> u;
  for (int64_t t = 0; t < n; ++t) {
    if (slot_of_token[t] < 0) continue;
    const LoraPair& s = slots[slot_of_token[t]];
    if (s.rank == 0) continue;
    u.assign(static_cast<size_t>(s.rank), 0.0f);
    const float* xt = x + t * in;
    for (int64_t r = 0; r < s.rank; ++r) {
      const float* a = s.a + r * in;
      float acc = 0.0f;
      for (int64_t c = 0; c < in; ++c) acc += a[c] * xt[c];
      u[r] = acc;
    }
    float* yt = y + t * out;
    for (int64_t o = 0; o < out; ++o) {
      const float* b = s.b + o * s.rank;
      float acc = 0.0f;
      for (int64_t r = 0; r < s.rank; ++r) acc += b[r] * u[r];
      yt[o] += acc;
    }
  }
}

}  // namespace podserve::kernels::ref
