// LOAD_FORMAT=dummy on a device: the placeholders' fills, computed with the CPU fill function, give exactly the
// bytes the CPU's DummyWeights makes for the same tensors (so the GPU fill kernel, which runs the same
// dummy_hash.h, reproduces the CPU model's weights), and no matrix is uploaded from host memory.
#include "model/device/dummy_device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "model/decoder.h"
#include "model/dummy_weights.h"
#include "model/hf_config.h"
#include "test_util.h"

namespace podserve {
namespace {

DecoderWeights bind_made(const DecoderSpec& spec, const HfConfig& config, std::shared_ptr<TensorMaker> maker) {
  SafetensorsModel file = SafetensorsModel::made_by(std::move(maker));
  auto w = bind_decoder_weights(spec, config, file, WeightDType::kAuto);
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  return w.ok() ? std::move(w).value() : DecoderWeights{};
}

void expect_fills_equal_cpu_weights(const std::string& arch, const DecoderSpec& spec) {
  SCOPED_TRACE(arch);
  auto config = read_hf_config(testing::test_data_dir() + "/tiny_models/" + arch + "/f32");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  constexpr uint64_t kSeed = 77;
  auto cpu = std::make_shared<DummyWeights>(DType::kBF16, kSeed, 1);
  auto device = std::make_shared<DeviceDummyTensors>(DType::kBF16, kSeed);
  const DecoderWeights cpu_w = bind_made(spec, *config, cpu);
  const DecoderWeights dev_w = bind_made(spec, *config, device);
  auto cpu_plan = plan_device_weights(cpu_w);
  auto dev_plan = plan_device_weights(dev_w);
  ASSERT_TRUE(cpu_plan.ok() && dev_plan.ok());
  ASSERT_EQ(cpu_plan->total_bytes, dev_plan->total_bytes);  // the same layout
  ASSERT_TRUE(plan_dummy_fills(*dev_plan, *device).ok());
  EXPECT_FALSE(dev_plan->fills.empty());
  size_t filled = 0;
  for (const WeightFill& f : dev_plan->fills) {
    const auto up = std::find_if(cpu_plan->uploads.begin(), cpu_plan->uploads.end(),
                                 [&](const WeightUpload& u) { return u.offset == f.offset; });
    ASSERT_NE(up, cpu_plan->uploads.end()) << "a fill at " << f.offset << " that the CPU plan does not upload";
    ASSERT_EQ(up->bytes, f.count * 2);
    std::vector<uint16_t> bits(f.count);
    fill_dummy_values(f.type, f.stream, f.first, static_cast<int64_t>(f.count), bits.data());
    EXPECT_EQ(std::memcmp(bits.data(), up->src, up->bytes), 0) << "fill at " << f.offset;
    filled += up->bytes;
  }
  // What is still uploaded are the vectors (norms, biases), read while binding: float32 copies.
  for (const WeightUpload& u : dev_plan->uploads) EXPECT_EQ(device->find(u.src), nullptr);
  EXPECT_EQ(filled + dev_plan->upload_bytes, cpu_plan->upload_bytes);
  EXPECT_GT(filled, 10 * dev_plan->upload_bytes);
}

TEST(DeviceDummy, FillsReproduceTheCpuDummyWeights) {
  expect_fills_equal_cpu_weights("llama", DecoderSpec{});
  DecoderSpec phi3;  // fused q|k|v and gate|up: fills start inside their tensor
  phi3.fused_qkv = true;
  phi3.fused_gate_up = true;
  expect_fills_equal_cpu_weights("phi3", phi3);
  DecoderSpec mixtral;
  mixtral.moe = true;
  expect_fills_equal_cpu_weights("mixtral", mixtral);
}

TEST(DeviceDummy, PlaceholdersAreNotHostMemory) {
  DeviceDummyTensors d(DType::kBF16, 1);
  auto m = d.make("model.layers.0.mlp.up_proj.weight", {64, 32});
  auto v = d.make("model.norm.weight", {32});
  ASSERT_TRUE(m.ok() && v.ok());
  EXPECT_NE(d.find(m->data), nullptr);
  EXPECT_NE(d.find(m->data + m->nbytes - 1), nullptr);
  EXPECT_EQ(d.find(m->data + m->nbytes), nullptr);
  EXPECT_EQ(d.find(v->data), nullptr);  // vectors are real memory: binding reads them
  EXPECT_EQ(d.bytes(), 64u * 32 * 2 + 32 * 2);
  EXPECT_FALSE(d.make("x", {0, 4}).ok());
  DeviceDummyTensors q(DType::kQ8_0, 1);
  EXPECT_FALSE(q.make("x", {32, 32}).ok());
}

}  // namespace
}  // namespace podserve
