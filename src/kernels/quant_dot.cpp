#include "kernels/quant_dot.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/fp16.h"

namespace podserve::kernels {
namespace {
constexpr int kBlock = 32;

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
}  // namespace

DType activation_type_for(DType weight) {
  return weight == DType::kQ4_1 ? DType::kQ8_1 : DType::kQ8_0;
}

void quantize_activations(DType act_type, const float* x, uint8_t* dst, int64_t n) {
  PODSERVE_CHECK(n % kBlock == 0);
  PODSERVE_CHECK(act_type == DType::kQ8_0 || act_type == DType::kQ8_1);
  const bool with_sum = act_type == DType::kQ8_1;
  const int64_t block_bytes = dtype_block_bytes(act_type);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* out = dst + b * block_bytes;
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    // Same float steps as ggml (id = 127 / amax, round half to even) so activations quantize identically.
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int8_t* qs = reinterpret_cast<int8_t*>(out + (with_sum ? 4 : 2));
    int sum = 0;
    for (int j = 0; j < kBlock; ++j) {
      qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));  // |x*id| <= 127
      sum += qs[j];
    }
    store_u16(out, float_to_fp16(d));
    if (with_sum) store_u16(out + 2, float_to_fp16(static_cast<float>(sum) * d));
  }
}

float quant_dot_scalar(DType weight_type, const uint8_t* w, const uint8_t* a, int64_t n) {
  const int64_t blocks = n / kBlock;
  float sum = 0.0f;
  switch (weight_type) {
    case DType::kQ8_0:
      for (int64_t b = 0; b < blocks; ++b, w += 34, a += 34) {
        const auto* wq = reinterpret_cast<const int8_t*>(w + 2);
        const auto* aq = reinterpret_cast<const int8_t*>(a + 2);
        int sumi = 0;
        for (int j = 0; j < kBlock; ++j) sumi += wq[j] * aq[j];
        sum += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(a)) * static_cast<float>(sumi);
      }
      return sum;
    case DType::kQ4_0:
      for (int64_t b = 0; b < blocks; ++b, w += 18, a += 34) {
        const uint8_t* qs = w + 2;
        const auto* aq = reinterpret_cast<const int8_t*>(a + 2);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
          sumi += ((qs[j] & 0x0f) - 8) * aq[j] + ((qs[j] >> 4) - 8) * aq[j + 16];
        }
        sum += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(a)) * static_cast<float>(sumi);
      }
      return sum;
    case DType::kQ4_1:
      for (int64_t b = 0; b < blocks; ++b, w += 20, a += 36) {
        const uint8_t* qs = w + 4;
        const auto* aq = reinterpret_cast<const int8_t*>(a + 4);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) sumi += (qs[j] & 0x0f) * aq[j] + (qs[j] >> 4) * aq[j + 16];
        const float dw = fp16_to_float(load_u16(w)), mw = fp16_to_float(load_u16(w + 2));
        const float da = fp16_to_float(load_u16(a)), sa = fp16_to_float(load_u16(a + 2));
        sum += dw * da * static_cast<float>(sumi) + mw * sa;
      }
      return sum;
    default:
      PODSERVE_CHECK(false) << "quant_dot: unsupported weight type " << dtype_name(weight_type);
  }
  return 0.0f;
}

}  // namespace podserve::kernels
