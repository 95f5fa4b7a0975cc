// The device LoRA delta (lora_bgmv) against ref::lora_bgmv: mixed slots, slot -1 and rank 0 untouched, rows of a
// strided (fused q|k|v) output with the columns outside the slice untouched, ranks up to the maximum, and each
// token's bits independent of the batch it runs in.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#include "kernels/lora_ops.h"

namespace podserve::kernels::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_floats;
using testing::rel_error;

struct HostAdapter {
  std::vector<float> a, b;  // [rank, in], [out, rank]
  int64_t rank;
};

// The adapters on the device, and the slot table in both address spaces.
struct Slots {
  std::vector<std::unique_ptr<DeviceBuffer<float>>> buffers;
  std::vector<LoraPair> host, device_view;
  std::unique_ptr<DeviceBuffer<uint8_t>> table;

  explicit Slots(const std::vector<HostAdapter>& adapters) {
    for (const HostAdapter& h : adapters) {
      host.push_back({h.a.data(), h.b.data(), h.rank});
      if (h.rank == 0) {
        device_view.push_back({nullptr, nullptr, 0});
        continue;
      }
      buffers.push_back(std::make_unique<DeviceBuffer<float>>(h.a));
      const float* a = buffers.back()->get();
      buffers.push_back(std::make_unique<DeviceBuffer<float>>(h.b));
      device_view.push_back({a, buffers.back()->get(), h.rank});
    }
    std::vector<uint8_t> bytes(device_view.size() * sizeof(LoraPair));
    std::memcpy(bytes.data(), device_view.data(), bytes.size());
    table = std::make_unique<DeviceBuffer<uint8_t>>(bytes);
  }
  const LoraPair* device() { return reinterpret_cast<const LoraPair*>(table->get()); }
};

HostAdapter random_adapter(uint32_t seed, int64_t rank, int64_t in, int64_t out) {
  return {random_floats(static_cast<size_t>(rank * in), seed, -0.5f, 0.5f),
          random_floats(static_cast<size_t>(out * rank), seed + 1, -0.5f, 0.5f), rank};
}

// y (x_stride = in, y rows of y_stride whose first `out` columns are the slice) after one device launch.
std::vector<float> run_device(Slots& slots, const std::vector<int32_t>& slot_of, const std::vector<float>& x,
                              int64_t in, const std::vector<float>& y0, int64_t y_stride, int64_t out) {
  const int64_t n = static_cast<int64_t>(slot_of.size());
  DeviceBuffer<int32_t> d_slot(slot_of);
  DeviceBuffer<float> d_x(x), d_y(y0);
  EXPECT_TRUE(lora_bgmv(slots.device(), d_slot.get(), d_x.get(), in, in, d_y.get(), y_stride, out, n, nullptr).ok());
  return d_y.download();
}

TEST(CudaLoraBgmv, MatchesRefOnMixedSlotsAndStridedOutput) {
  const int64_t in = 200, out = 72, y_stride = 130;  // y: the first 72 columns of 130 (a q slice of q|k|v)
  std::vector<HostAdapter> adapters = {random_adapter(1, 8, in, out), random_adapter(3, 1, in, out),
                                       random_adapter(5, 0, in, out), random_adapter(7, 37, in, out)};
  Slots slots(adapters);
  const std::vector<int32_t> slot_of = {0, -1, 1, 3, 3, 2, 0, -1, 1, 3, 0};
  const int64_t n = static_cast<int64_t>(slot_of.size());
  const std::vector<float> x = random_floats(static_cast<size_t>(n * in), 11);
  const std::vector<float> y0 = random_floats(static_cast<size_t>(n * y_stride), 13);
  const std::vector<float> y = run_device(slots, slot_of, x, in, y0, y_stride, out);

  std::vector<float> compact(static_cast<size_t>(n * out));
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(&compact[t * out], &y0[t * y_stride], out * sizeof(float));
  }
  ref::lora_bgmv(slots.host.data(), slot_of.data(), x.data(), in, compact.data(), out, n);
  std::vector<float> got(static_cast<size_t>(n * out));
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(&got[t * out], &y[t * y_stride], out * sizeof(float));
    for (int64_t c = out; c < y_stride; ++c) ASSERT_EQ(y[t * y_stride + c], y0[t * y_stride + c]) << t << "," << c;
    if (slot_of[t] < 0 || slots.host[slot_of[t]].rank == 0) {
      for (int64_t c = 0; c < out; ++c) ASSERT_EQ(y[t * y_stride + c], y0[t * y_stride + c]) << t << "," << c;
    }
  }
  EXPECT_LT(rel_error(got, compact), 1e-5);
}

TEST(CudaLoraBgmv, LargestRankMatchesRef) {
  const int64_t in = 64, out = 48, rank = kLoraMaxRank;
  std::vector<HostAdapter> adapters = {random_adapter(21, rank, in, out)};
  Slots slots(adapters);
  const std::vector<int32_t> slot_of = {0, 0};
  const std::vector<float> x = random_floats(2 * in, 23), y0 = random_floats(2 * out, 25);
  const std::vector<float> y = run_device(slots, slot_of, x, in, y0, out, out);
  std::vector<float> want = y0;
  ref::lora_bgmv(slots.host.data(), slot_of.data(), x.data(), in, want.data(), out, 2);
  EXPECT_LT(rel_error(y, want), 1e-5);
}

// A token gives the same bits alone as in a batch of other tokens and adapters.
TEST(CudaLoraBgmv, TokenBitsDoNotDependOnTheBatch) {
  const int64_t in = 96, out = 40;
  std::vector<HostAdapter> adapters = {random_adapter(31, 16, in, out), random_adapter(33, 4, in, out)};
  Slots slots(adapters);
  const std::vector<int32_t> slot_of = {1, 0, -1, 0, 1, 1, 0};
  const int64_t n = static_cast<int64_t>(slot_of.size());
  const std::vector<float> x = random_floats(static_cast<size_t>(n * in), 35);
  const std::vector<float> y0 = random_floats(static_cast<size_t>(n * out), 37);
  const std::vector<float> batch = run_device(slots, slot_of, x, in, y0, out, out);
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<float> xt(x.begin() + t * in, x.begin() + (t + 1) * in);
    const std::vector<float> yt(y0.begin() + t * out, y0.begin() + (t + 1) * out);
    const std::vector<float> alone = run_device(slots, {slot_of[t]}, xt, in, yt, out, out);
    for (int64_t c = 0; c < out; ++c) ASSERT_EQ(alone[c], batch[t * out + c]) << "token " << t << " col " << c;
  }
}

TEST(CudaLoraBgmv, RefusesBadShapes) {
  EXPECT_FALSE(lora_bgmv(nullptr, nullptr, nullptr, 4, 8, nullptr, 8, 8, 1, nullptr).ok());  // x_stride < in
  EXPECT_FALSE(lora_bgmv(nullptr, nullptr, nullptr, 8, 8, nullptr, 4, 8, 1, nullptr).ok());  // y_stride < out
  EXPECT_TRUE(lora_bgmv(nullptr, nullptr, nullptr, 8, 8, nullptr, 8, 8, 0, nullptr).ok());   // nothing to do
}

}  // namespace
}  // namespace podserve::kernels::cuda
