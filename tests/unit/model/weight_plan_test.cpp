#include "model/device/weight_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace podserve {
namespace {

// Host bytes for a matrix of `type`, owned by the test.
struct Store {
  std::vector<std::vector<uint8_t>> bufs;
  kernels::MatrixView matrix(DType type, int64_t rows, int64_t cols) {
    bufs.emplace_back(dtype_row_bytes(type, cols) * rows, static_cast<uint8_t>(bufs.size()));
    return {type, bufs.back().data(), rows, cols};
  }
};

DecoderWeights two_layers(Store& s, DType type, bool tied) {
  DecoderWeights w;
  s.bufs.reserve(64);
  w.embedding = s.matrix(type, 100, 64);
  w.output = tied ? w.embedding : s.matrix(type, 100, 64);
  w.final_norm.assign(64, 1.0f);
  w.layers.resize(2);
  for (DecoderLayer& l : w.layers) {
    l.attn_norm.assign(64, 1.0f);
    l.ffn_norm.assign(64, 1.0f);
    l.wq = s.matrix(type, 64, 64);
    l.wk = s.matrix(type, 32, 64);
    l.wv = s.matrix(type, 32, 64);
    l.wo = s.matrix(type, 64, 64);
    l.gate = s.matrix(type, 96, 64);
    l.up = s.matrix(type, 96, 64);
    l.down = s.matrix(type, 64, 96);
  }
  return w;
}

// Every placed byte range (weights, twins) is inside the block and no two overlap; every upload lands in a
// placed weight with its exact size.
void expect_disjoint(const WeightPlan& p) {
  std::vector<std::pair<size_t, size_t>> ranges;
  auto add_m = [&](const DeviceMatrix& m) {
    if (!m.present()) return;
    ranges.push_back({m.offset, m.bytes()});
    if (m.bf16_offset != kNoOffset) ranges.push_back({m.bf16_offset, static_cast<size_t>(m.rows * m.cols * 2)});
  };
  auto add_v = [&](const DeviceVector& v) {
    if (v.present()) ranges.push_back({v.offset, v.n * sizeof(float)});
  };
  add_m(p.embedding);
  if (p.output.offset != p.embedding.offset) add_m(p.output);
  else if (p.output.bf16_offset != kNoOffset) ranges.push_back({p.output.bf16_offset, static_cast<size_t>(p.output.rows * p.output.cols * 2)});
  add_v(p.final_norm);
  for (const DeviceLayer& l : p.layers) {
    for (const DeviceMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) add_m(*m);
    for (const DeviceVector* v : {&l.attn_norm, &l.ffn_norm}) add_v(*v);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_LE(ranges[i].first + ranges[i].second, p.total_bytes);
    if (i > 0) {
      EXPECT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first) << "overlap at " << i;
    }
  }
  size_t prev_end = 0;
  for (const WeightUpload& u : p.uploads) {
    EXPECT_GE(u.offset, prev_end);
    prev_end = u.offset + u.bytes;
    EXPECT_TRUE(std::any_of(ranges.begin(), ranges.end(), [&](auto r) { return r.first == u.offset && r.second == u.bytes; }));
  }
}

TEST(WeightPlan, Bf16WeightsAreStoredOnceWithoutTwins) {
  Store s;
  DecoderWeights w = two_layers(s, DType::kBF16, /*tied=*/true);
  auto p = plan_device_weights(w);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->output.offset, p->embedding.offset);  // tied: one copy
  EXPECT_EQ(p->bf16_twin_bytes, 0u);
  EXPECT_TRUE(p->twins.empty());
  size_t matrix_bytes = 100 * 64 * 2 + 2 * (64 + 32 + 32 + 64 + 96 + 96) * 64 * 2 + 2 * 64 * 96 * 2;
  size_t vector_bytes = (64 + 2 * 2 * 64) * 4;
  EXPECT_EQ(p->upload_bytes, matrix_bytes + vector_bytes);
  EXPECT_EQ(p->uploads.size(), 1u + 1 + 2 * (7 + 2));
  for (const DeviceLayer& l : p->layers) {
    EXPECT_TRUE(l.qkv_adjacent);
    EXPECT_TRUE(l.gate_up_adjacent);
    EXPECT_EQ(l.wq.offset % 256, 0u);
    EXPECT_EQ(l.wk.offset, l.wq.offset + 64 * 64 * 2);
    EXPECT_EQ(l.up.offset, l.gate.offset + 96 * 64 * 2);
  }
  expect_disjoint(*p);
}

TEST(WeightPlan, QuantizedMatricesGetAdjacentBf16Twins) {
  Store s;
  DecoderWeights w = two_layers(s, DType::kQ4_1, /*tied=*/false);
  auto p = plan_device_weights(w);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->embedding.bf16_offset, kNoOffset);  // gathered from its quant blocks
  EXPECT_NE(p->output.bf16_offset, kNoOffset);
  EXPECT_EQ(p->twins.size(), 1u + 2 * 7);
  EXPECT_EQ(p->bf16_twin_bytes, (100 * 64 + 2 * (64 + 32 + 32 + 64 + 96 + 96 + 96) * 64) * 2u);
  for (const DeviceLayer& l : p->layers) {
    EXPECT_EQ(l.wk.bf16_offset, l.wq.bf16_offset + 64 * 64 * 2);
    EXPECT_EQ(l.wv.bf16_offset, l.wk.bf16_offset + 32 * 64 * 2);
    EXPECT_EQ(l.up.bf16_offset, l.gate.bf16_offset + 96 * 64 * 2);
    EXPECT_EQ(l.wq.row_bytes(), 64u / 32 * 20);
  }
  for (const TwinDequant& t : p->twins) {
    EXPECT_EQ(t.type, DType::kQ4_1);
    EXPECT_GE(t.dst_offset, p->stored_bytes);  // twins follow the stored weights
    EXPECT_LT(t.src_offset, p->stored_bytes);
  }
  EXPECT_GE(p->total_bytes, p->stored_bytes + p->bf16_twin_bytes);
  expect_disjoint(*p);
  // Without twins the block ends where they would start, and no matrix names one.
  WeightPlan lean = *p;
  drop_bf16_twins(lean);
  EXPECT_EQ(lean.total_bytes, p->stored_bytes);
  EXPECT_TRUE(lean.twins.empty());
  EXPECT_EQ(lean.output.bf16_offset, kNoOffset);
  EXPECT_EQ(lean.layers[1].down.bf16_offset, kNoOffset);
  EXPECT_EQ(lean.uploads.size(), p->uploads.size());
  expect_disjoint(lean);
}

TEST(WeightPlan, TiedQuantizedOutputHasOneTwinAndMixedTypesAreNotFused) {
  Store s;
  DecoderWeights w = two_layers(s, DType::kQ8_0, /*tied=*/true);
  w.layers[1].wv = s.matrix(DType::kQ6_K, 32, 256);  // odd one out (cols differ too)
  w.layers[1].wq = s.matrix(DType::kQ8_0, 64, 256);
  w.layers[1].wk = s.matrix(DType::kQ8_0, 32, 256);
  auto p = plan_device_weights(w);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->output.offset, p->embedding.offset);
  EXPECT_NE(p->output.bf16_offset, kNoOffset);
  EXPECT_TRUE(p->layers[0].qkv_adjacent);
  EXPECT_FALSE(p->layers[1].qkv_adjacent);
  expect_disjoint(*p);
}

TEST(WeightPlan, DummyMatricesArePlacedButNotUploaded) {
  DecoderWeights w;
  w.embedding = {DType::kBF16, nullptr, 100, 64};
  w.output = {DType::kBF16, nullptr, 100, 64};
  w.final_norm.assign(64, 1.0f);
  auto p = plan_device_weights(w);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->embedding.present());
  EXPECT_NE(p->output.offset, p->embedding.offset);
  EXPECT_EQ(p->uploads.size(), 1u);  // the norm only
  EXPECT_GE(p->total_bytes, 2u * 100 * 64 * 2);
}

TEST(WeightPlan, RejectsUnusableShapes) {
  Store s;
  DecoderWeights w = two_layers(s, DType::kBF16, true);
  w.layers[0].wq.cols = 65;
  w.layers[0].wq.type = DType::kQ8_0;
  EXPECT_FALSE(plan_device_weights(w).ok());
}

}  // namespace
}  // namespace podserve
