// The attention input step (q/k norm, every RoPE variant, the K/V cache write through a slot mapping) against the
// CPU decoders' sequence of ref:: ops: ref::rms_norm per head, ref::rope_* and the fp16 / bf16 store.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/fp16.h"
#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#include "kernels/model_ops.h"
#include "kernels/ops.h"

namespace podserve::kernels::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_floats;
using testing::rel_error;

uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

struct Case {
  RopeKind kind;
  int n_heads, n_kv_heads, head_dim, rot_dim;
  bool qk_norm;
  KvType type;
};

TEST(CudaRopeKv, EveryVariantMatchesTheCpuSequence) {
  const std::vector<Case> cases = {
      {RopeKind::kInterleavedTheta, 9, 3, 64, 64, false, KvType::kF16},
      {RopeKind::kInterleavedFreqs, 4, 2, 128, 128, false, KvType::kF16},
      {RopeKind::kRotateHalf, 8, 2, 80, 32, false, KvType::kBF16},  // partial rotary (Phi-style)
      {RopeKind::kRotateHalf, 4, 1, 256, 256, true, KvType::kBF16},  // Gemma 3: q/k norm then rotate_half
      {RopeKind::kInterleavedTheta, 6, 6, 96, 48, true, KvType::kF16},
      {RopeKind::kNone, 2, 2, 64, 0, false, KvType::kF16},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "kind " << static_cast<int>(c.kind) << " " << c.n_heads << "/" << c.n_kv_heads
                                      << " x " << c.head_dim << " rot " << c.rot_dim << " norm " << c.qk_norm);
    const int64_t n = 5, q_dim = int64_t{c.n_heads} * c.head_dim, kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
    // One fused qkv buffer: q | k | v per token.
    const int64_t stride = q_dim + 2 * kv_dim;
    const std::vector<float> qkv = random_floats(n * stride, 30 + c.head_dim, -3.0f, 3.0f);
    const std::vector<int32_t> positions = {0, 1, 7, 4095, 70000};
    const std::vector<int32_t> slots = {3, -1, 0, 9, 6};  // -1: a padded row, not written
    std::vector<float> inv_freq(std::max(1, c.rot_dim / 2));
    for (int i = 0; i < c.rot_dim / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rot_dim) / (i % 3 + 1.0f);
    const float attn_factor = c.kind == RopeKind::kRotateHalf ? 1.25f : 1.0f;
    const std::vector<float> q_norm = random_floats(c.head_dim, 31, 0.5f, 1.5f), k_norm = random_floats(c.head_dim, 32, 0.5f, 1.5f);
    const int64_t slot_stride = kv_dim + 16, n_slots = 12;

    DeviceBuffer<float> d_qkv(qkv), d_inv(inv_freq), d_qn(q_norm), d_kn(k_norm);
    DeviceBuffer<int32_t> d_pos(positions), d_slots(slots);
    DeviceBuffer<uint16_t> k_cache(n_slots * slot_stride), v_cache(n_slots * slot_stride);
    RopeParams rope;
    rope.kind = c.kind;
    rope.rot_dim = c.rot_dim;
    rope.theta = 10000.0f;
    rope.inv_freq = d_inv.get();
    rope.attn_factor = attn_factor;
    const PagedKvCache cache{k_cache.get(), v_cache.get(), c.type, slot_stride, 16};
    float* q = d_qkv.get();
    const Status st = rope_qk_kv_write(q, stride, c.n_heads, q + q_dim, stride, q + q_dim + kv_dim, stride, c.n_kv_heads,
                                       c.head_dim, d_pos.get(), d_slots.get(), n, rope, c.qk_norm ? d_qn.get() : nullptr,
                                       c.qk_norm ? d_kn.get() : nullptr, 1e-6f, cache, nullptr);
    ASSERT_TRUE(st.ok()) << st.to_string();
    const std::vector<float> got = d_qkv.download();
    const std::vector<uint16_t> kc = k_cache.download(), vc = v_cache.download();

    std::vector<float> want = qkv;
    for (int64_t t = 0; t < n; ++t) {
      float* qt = want.data() + t * stride;
      float* kt = qt + q_dim;
      const float* vt = kt + kv_dim;
      if (c.qk_norm) {
        for (int h = 0; h < c.n_heads; ++h) ref::rms_norm(qt + h * c.head_dim, q_norm.data(), qt + h * c.head_dim, c.head_dim, 1e-6f);
        for (int h = 0; h < c.n_kv_heads; ++h) ref::rms_norm(kt + h * c.head_dim, k_norm.data(), kt + h * c.head_dim, c.head_dim, 1e-6f);
      }
      for (auto [x, heads] : {std::pair{qt, c.n_heads}, std::pair{kt, c.n_kv_heads}}) {
        if (c.kind == RopeKind::kInterleavedTheta) ref::rope_interleaved(x, heads, c.head_dim, c.rot_dim, positions[t], 10000.0f);
        if (c.kind == RopeKind::kInterleavedFreqs) ref::rope_interleaved_freqs(x, heads, c.head_dim, c.rot_dim, positions[t], inv_freq.data());
        if (c.kind == RopeKind::kRotateHalf) ref::rope_rotate_half(x, heads, c.head_dim, c.rot_dim, positions[t], inv_freq.data(), attn_factor);
      }
      if (slots[t] < 0) continue;
      // The cache holds the rounding of the kernel's own rotated k, and of v.
      const float* got_k = got.data() + t * stride + q_dim;
      const uint16_t* kbits = kc.data() + slots[t] * slot_stride;
      const uint16_t* vbits = vc.data() + slots[t] * slot_stride;
      for (int64_t d = 0; d < kv_dim; ++d) {
        ASSERT_EQ(kbits[d], c.type == KvType::kF16 ? float_to_fp16(got_k[d]) : bf16_bits(got_k[d])) << t << " k " << d;
        ASSERT_EQ(vbits[d], c.type == KvType::kF16 ? float_to_fp16(vt[d]) : bf16_bits(vt[d])) << t << " v " << d;
      }
    }
    // q and k in place, v untouched. Positions up to 70000 turn angles of thousands of radians, where the device's
    // cos/sin may differ from the host's by ulps.
    EXPECT_LT(rel_error(got, want), 2e-5);
    // Slots no token maps to (the padded row's included) keep the poison.
    for (int64_t s = 0; s < n_slots; ++s) {
      if (std::find(slots.begin(), slots.end(), s) != slots.end()) continue;
      for (int64_t d = 0; d < slot_stride; ++d) ASSERT_EQ(kc[s * slot_stride + d], 0xFFFF) << "slot " << s;
    }
  }
}

TEST(CudaRopeKv, RejectsBadParameters) {
  RopeParams rope;
  rope.kind = RopeKind::kRotateHalf;
  rope.rot_dim = 64;  // inv_freq missing
  const PagedKvCache cache{nullptr, nullptr, KvType::kF16, 64, 16};
  EXPECT_FALSE(rope_qk_kv_write(nullptr, 64, 1, nullptr, 64, nullptr, 64, 1, 64, nullptr, nullptr, 1, rope, nullptr,
                                nullptr, 1e-6f, cache, nullptr).ok());
  rope.kind = RopeKind::kInterleavedTheta;
  rope.rot_dim = 65;
  EXPECT_FALSE(rope_qk_kv_write(nullptr, 64, 1, nullptr, 64, nullptr, 64, 1, 64, nullptr, nullptr, 1, rope, nullptr,
                                nullptr, 1e-6f, cache, nullptr).ok());
}

}  // namespace
}  // namespace podserve::kernels::cuda
