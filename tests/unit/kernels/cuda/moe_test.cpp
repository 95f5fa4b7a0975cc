// Mixture of experts on the device (routing, grouped GEMV, combine) against the CPU decoder's moe() steps: ref::softmax
// over the router logits, the top k by probability (ties to the lower id), renormalized, and the experts' SwiGLU
// MLPs through ref::matmul summed in expert order.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "device_test.h"
#include "kernels/cuda/device_ops.h"
#include "kernels/ops.h"
#include "quantize_for_test.h"

namespace podserve::kernels::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_floats;
using testing::rel_error;

struct CpuRoute {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

// decoder.cpp's moe() routing, step for step.
CpuRoute cpu_route(std::vector<float> logits, int64_t n, int32_t E, int32_t k) {
  CpuRoute r;
  std::vector<int32_t> order(E);
  for (int64_t t = 0; t < n; ++t) {
    float* p = logits.data() + t * E;
    ref::softmax(p, E);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
    float sum = 0.0f;
    for (int32_t j = 0; j < k; ++j) sum += p[order[j]];
    for (int32_t j = 0; j < k; ++j) {
      r.ids.push_back(order[j]);
      r.weights.push_back(p[order[j]] / sum);
    }
  }
  return r;
}

struct DeviceRouting {
  DeviceBuffer<int32_t> ids, offsets, sorted, assignment_of;
  DeviceBuffer<float> weights;
  DeviceRouting(int64_t n, int32_t E, int32_t k) : ids(n * k), offsets(E + 1), sorted(n * k), assignment_of(n * k), weights(n * k) {}
  MoeRouting view() { return MoeRouting{ids.get(), weights.get(), offsets.get(), sorted.get(), assignment_of.get()}; }
};

TEST(CudaMoe, RoutingMatchesTheCpuDecoder) {
  for (auto [E, k] : {std::pair{8, 2}, std::pair{60, 4}}) {
    const int64_t n = 37;
    std::vector<float> logits = random_floats(n * E, 40 + E, -3.0f, 3.0f);
    logits[5 * E + 1] = logits[5 * E + 6] = 9.0f;  // a tie: the lower id comes first
    DeviceBuffer<float> d_logits(logits);
    DeviceRouting r(n, E, k);
    ASSERT_TRUE(moe_route(d_logits.get(), n, E, k, r.view(), nullptr).ok());
    const CpuRoute want = cpu_route(logits, n, E, k);
    EXPECT_EQ(r.ids.download(), want.ids);
    EXPECT_LT(rel_error(r.weights.download(), want.weights), 1e-6);
    // Grouping: offsets are the per-expert counts' prefix sums; within an expert, tokens ascend; assignment_of is
    // the inverse of the grouping.
    const std::vector<int32_t> offsets = r.offsets.download(), sorted = r.sorted.download(), inv = r.assignment_of.download();
    int32_t pos = 0;
    for (int32_t e = 0; e < E; ++e) {
      ASSERT_EQ(offsets[e], pos);
      for (int64_t t = 0; t < n; ++t) {
        for (int32_t j = 0; j < k; ++j) {
          if (want.ids[t * k + j] != e) continue;
          EXPECT_EQ(sorted[pos], t);
          EXPECT_EQ(inv[t * k + j], pos);
          ++pos;
        }
      }
    }
    EXPECT_EQ(offsets[E], n * k);
  }
}

// The whole expert block: route, gather, grouped gate/up GEMVs, SiLU*up, grouped down GEMV, combine.
TEST(CudaMoe, ExpertMlpsMatchTheCpuDecoder) {
  const int32_t E = 4, k = 2;
  const int64_t H = 64, I = 64;
  std::mt19937 gen(5);
  std::vector<std::vector<uint8_t>> gate(E), up(E), down(E);
  for (int32_t e = 0; e < E; ++e) {
    const std::vector<float> g = test_quant::random_normal(gen, I * H, 0.2f), u = test_quant::random_normal(gen, I * H, 0.2f);
    const std::vector<float> d = test_quant::random_normal(gen, H * I, 0.2f);
    gate[e] = test_quant::quantize(DType::kQ8_0, g.data(), I * H);
    up[e] = test_quant::quantize(DType::kQ8_0, u.data(), I * H);
    down[e] = test_quant::quantize(DType::kQ8_0, d.data(), H * I);
  }
  for (int64_t n : {1, 5}) {
    SCOPED_TRACE(n);
    const std::vector<float> x = random_floats(n * H, 50 + n), logits = random_floats(n * E, 60 + n, -2.0f, 2.0f);
    std::vector<std::unique_ptr<DeviceBuffer<uint8_t>>> d_w;
    std::vector<const uint8_t*> gp, upp, dp;
    for (int32_t e = 0; e < E; ++e) {
      for (auto* m : {&gate[e], &up[e], &down[e]}) d_w.push_back(std::make_unique<DeviceBuffer<uint8_t>>(*m));
      gp.push_back(d_w[d_w.size() - 3]->get());
      upp.push_back(d_w[d_w.size() - 2]->get());
      dp.push_back(d_w[d_w.size() - 1]->get());
    }
    DeviceBuffer<const uint8_t*> d_gp(gp), d_up(upp), d_dp(dp);
    DeviceBuffer<float> d_x(x), d_logits(logits), d_g(n * k * I), d_u(n * k * I), d_y(n * k * H), d_out(n * H);
    DeviceRouting r(n, E, k);
    ASSERT_TRUE(moe_route(d_logits.get(), n, E, k, r.view(), nullptr).ok());
    const ExpertMatrices wg{DType::kQ8_0, d_gp.get(), I, H}, wu{DType::kQ8_0, d_up.get(), I, H}, wd{DType::kQ8_0, d_dp.get(), H, I};
    ASSERT_TRUE(moe_gemv(wg, r.view(), E, n * k, d_x.get(), H, true, d_g.get(), I, nullptr).ok());
    ASSERT_TRUE(moe_gemv(wu, r.view(), E, n * k, d_x.get(), H, true, d_u.get(), I, nullptr).ok());
    ASSERT_TRUE(act_mul(Activation::kSilu, d_g.get(), I, d_u.get(), I, d_g.get(), I, n * k, I, nullptr).ok());
    ASSERT_TRUE(moe_gemv(wd, r.view(), E, n * k, d_g.get(), I, false, d_y.get(), H, nullptr).ok());
    ASSERT_TRUE(moe_combine(d_y.get(), H, r.view(), n, k, H, d_out.get(), H, nullptr).ok());
    const std::vector<float> got = d_out.download();

    const CpuRoute route = cpu_route(logits, n, E, k);
    std::vector<float> want(n * H, 0.0f), g(I), u(I), y(H);
    for (int32_t e = 0; e < E; ++e) {  // experts in order, as the CPU decoder
      for (int64_t t = 0; t < n; ++t) {
        for (int32_t j = 0; j < k; ++j) {
          if (route.ids[t * k + j] != e) continue;
          ref::matmul(MatrixView{DType::kQ8_0, gate[e].data(), I, H}, x.data() + t * H, g.data(), 1);
          ref::matmul(MatrixView{DType::kQ8_0, up[e].data(), I, H}, x.data() + t * H, u.data(), 1);
          ref::silu_mul(g.data(), u.data(), g.data(), I);
          ref::matmul(MatrixView{DType::kQ8_0, down[e].data(), H, I}, g.data(), y.data(), 1);
          for (int64_t d = 0; d < H; ++d) want[t * H + d] += route.weights[t * k + j] * y[d];
        }
      }
    }
    EXPECT_LT(rel_error(got, want), 1e-5);
  }
}

TEST(CudaMoe, RejectsBadRouting) {
  EXPECT_FALSE(moe_route(nullptr, 1, 8, 9, MoeRouting{}, nullptr).ok());
  EXPECT_FALSE(moe_route(nullptr, 1, 300, 2, MoeRouting{}, nullptr).ok());
}

}  // namespace
}  // namespace podserve::kernels::cuda
