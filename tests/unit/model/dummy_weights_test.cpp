// LOAD_FORMAT=dummy values against tools/goldens/dummy_weights.py (the documented formula in Python/numpy, bf16 by
// gguf-py's converter, fp16 by numpy): same key, stream and bits at every index, whichever way the fill is cut.
#include "model/dummy_weights.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "model/dummy_hash.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

uint64_t hex(const json::value& v) { return std::stoull(std::string(v.as_string()), nullptr, 16); }

TEST(DummyWeightsTest, ValuesAreThePythonFormulasBits) {
  const json::value goldens = json::parse(testing::read_file(testing::test_data_dir() + "/dummy_weights.json"));
  const json::array& indices = goldens.at("indices").as_array();
  int checked = 0;
  for (const json::value& c : goldens.at("cases").as_array()) {
    const std::string name(c.at("name").as_string());
    const uint64_t seed = c.at("seed").to_number<uint64_t>();
    const uint64_t key = dummy::tensor_key(name);
    ASSERT_EQ(key, hex(c.at("key"))) << name;
    const uint64_t stream = dummy::tensor_stream(seed, key);
    ASSERT_EQ(stream, hex(c.at("stream"))) << name;
    for (size_t i = 0; i < indices.size(); ++i) {
      const uint64_t index = indices[i].to_number<uint64_t>();
      const float v = dummy::value(stream, index);
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      EXPECT_EQ(bits, c.at("f32_bits").as_array()[i].to_number<uint32_t>()) << name << " @" << index;
      // The fill function, one element at that index, in each storage type.
      float f32 = 0;
      uint16_t bf16 = 0, f16 = 0;
      fill_dummy_values(DType::kF32, stream, index, 1, &f32);
      fill_dummy_values(DType::kBF16, stream, index, 1, &bf16);
      fill_dummy_values(DType::kF16, stream, index, 1, &f16);
      EXPECT_EQ(f32, v);
      EXPECT_EQ(bf16, c.at("bf16_bits").as_array()[i].to_number<uint16_t>()) << name << " @" << index;
      EXPECT_EQ(f16, c.at("f16_bits").as_array()[i].to_number<uint16_t>()) << name << " @" << index;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 18 * 16);
}

TEST(DummyWeightsTest, UniformInVllmsRange) {
  const uint64_t stream = dummy::tensor_stream(dummy::kDummySeed, dummy::tensor_key("model.embed_tokens.weight"));
  constexpr int64_t n = 1 << 20;
  std::vector<float> v(n);
  fill_dummy_values(DType::kF32, stream, 0, n, v.data());
  // The bulk fill (vectorized) gives the element-wise function's bits, in each storage type.
  std::vector<uint16_t> bf16(n), f16(n);
  fill_dummy_values(DType::kBF16, stream, 0, n, bf16.data());
  fill_dummy_values(DType::kF16, stream, 0, n, f16.data());
  for (int64_t i = 0; i < n; ++i) {
    const float x = dummy::value(stream, static_cast<uint64_t>(i));
    ASSERT_EQ(v[i], x) << i;
    ASSERT_EQ(bf16[i], float_to_bf16(x)) << i;
    ASSERT_EQ(f16[i], float_to_fp16(x)) << i;
  }
  double sum = 0, lo = 1, hi = -1;
  int64_t below_zero = 0;
  for (float x : v) {
    ASSERT_TRUE(x >= -1e-3f && x <= 1e-3f) << x;
    sum += x;
    lo = std::min(lo, static_cast<double>(x));
    hi = std::max(hi, static_cast<double>(x));
    below_zero += x < 0;
  }
  // A uniform on [-1e-3, 1e-3): mean 0 with standard error 5.8e-7 over 2^20 draws; both ends reached.
  EXPECT_LT(std::fabs(sum / n), 5e-6);
  EXPECT_LT(lo, -0.999e-3);
  EXPECT_GT(hi, 0.999e-3);
  EXPECT_NEAR(static_cast<double>(below_zero) / n, 0.5, 0.005);
  // Other tensors, other seeds: other values.
  std::vector<float> other(16), reseeded(16);
  fill_dummy_values(DType::kF32, dummy::tensor_stream(dummy::kDummySeed, dummy::tensor_key("lm_head.weight")), 0, 16,
                    other.data());
  fill_dummy_values(DType::kF32, dummy::tensor_stream(7, dummy::tensor_key("model.embed_tokens.weight")), 0, 16,
                    reseeded.data());
  EXPECT_NE(std::memcmp(other.data(), v.data(), 64), 0);
  EXPECT_NE(std::memcmp(reseeded.data(), v.data(), 64), 0);
}

TEST(DummyWeightsTest, ParallelFillEqualsOneThreadAndChunksOfAnySize) {
  DummyWeights four(DType::kBF16, 99, 4), one(DType::kBF16, 99, 1);
  const std::vector<int64_t> shape = {257, 1031};  // odd sizes, more than the parallel threshold
  Result<SafetensorsTensor> a = four.make("w", shape), b = one.make("w", shape);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->nbytes, size_t{257} * 1031 * 2);
  EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0);
  std::vector<uint16_t> piece(500);
  const uint64_t stream = dummy::tensor_stream(99, dummy::tensor_key("w"));
  fill_dummy_values(DType::kBF16, stream, 100000, 500, piece.data());
  EXPECT_EQ(std::memcmp(piece.data(), a->data + 200000, 1000), 0);
  EXPECT_EQ(a->type, DType::kBF16);
  EXPECT_EQ(a->shape, shape);
  const DummyFillStats stats = four.finish();
  EXPECT_EQ(stats.tensors, 1);
  EXPECT_EQ(stats.bytes, a->nbytes);
  ASSERT_EQ(four.layout().size(), 1u);
  EXPECT_EQ(four.layout()[0].name, "w");
  Result<SafetensorsTensor> after = four.make("v", {3, 70000});  // after finish(): filled on this thread, same values
  ASSERT_TRUE(after.ok());
  std::vector<uint16_t> expect(3 * 70000);
  fill_dummy_values(DType::kBF16, dummy::tensor_stream(99, dummy::tensor_key("v")), 0, 3 * 70000, expect.data());
  EXPECT_EQ(std::memcmp(after->data, expect.data(), after->nbytes), 0);
}

TEST(DummyWeightsTest, MadeCheckpointMakesEachTensorOnce) {
  auto maker = std::make_shared<DummyWeights>(DType::kF32, 1, 2);
  SafetensorsModel ckpt = SafetensorsModel::made_by(maker);
  Result<const SafetensorsTensor*> t = ckpt.find_or_make("model.norm.weight", {8});
  ASSERT_TRUE(t.ok() && *t != nullptr);
  EXPECT_EQ(ckpt.find("model.norm.weight"), *t);
  EXPECT_EQ(*ckpt.find_or_make("model.norm.weight", {8}), *t);
  EXPECT_EQ(maker->finish().tensors, 1);
  const float* values = reinterpret_cast<const float*>((*t)->data);
  EXPECT_EQ(values[3], dummy::value(dummy::tensor_stream(1, dummy::tensor_key("model.norm.weight")), 3));
  EXPECT_FALSE(maker->make("huge", {int64_t{1} << 30, int64_t{1} << 30}).ok());
  EXPECT_FALSE(DummyWeights(DType::kQ8_0, 1, 1).make("q", {32}).ok());
}

TEST(DummyWeightsTest, WeightTypeFollowsDtypeThenConfig) {
  EXPECT_EQ(dummy_weight_type(WeightDType::kBFloat16, "float32").value(), DType::kBF16);
  EXPECT_EQ(dummy_weight_type(WeightDType::kFloat32, "bfloat16").value(), DType::kF32);
  EXPECT_EQ(dummy_weight_type(WeightDType::kFloat16, "").value(), DType::kF16);
  EXPECT_EQ(dummy_weight_type(WeightDType::kAuto, "bfloat16").value(), DType::kBF16);
  EXPECT_EQ(dummy_weight_type(WeightDType::kAuto, "float16").value(), DType::kF16);
  EXPECT_EQ(dummy_weight_type(WeightDType::kAuto, "half").value(), DType::kF16);
  EXPECT_EQ(dummy_weight_type(WeightDType::kAuto, "").value(), DType::kF32);  // transformers' default
  const std::string e = dummy_weight_type(WeightDType::kAuto, "float8_e4m3fn").status().message();
  EXPECT_NE(e.find("float8_e4m3fn"), std::string::npos) << e;
  EXPECT_NE(e.find("DTYPE"), std::string::npos) << e;
}

}  // namespace
}  // namespace podserve
