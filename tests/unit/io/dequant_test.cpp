// Reference dequantization against gguf-py's dequantizer (goldens from tools/goldens/quants.py): every tensor of
// quants.gguf and a few rows of the real model's Q8_0 and Q4_1 tensors.
#include "kernels/ref/dequant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

struct Golden {
  json::value index;
  std::vector<float> values;
};

Golden load_golden() {
  Golden g;
  g.index = json::parse(testing::read_file(testing::test_data_dir() + "/quants_expected.json"));
  std::string bin = testing::read_file(testing::test_data_dir() + "/quants_expected.bin");
  g.values.resize(bin.size() / sizeof(float));
  std::memcpy(g.values.data(), bin.data(), g.values.size() * sizeof(float));
  EXPECT_EQ(static_cast<int64_t>(g.values.size()), g.index.at("value_count").as_int64());
  return g;
}

/// Types whose dequantization is a single rounding (a product) must match gguf-py bit for bit; the types that
/// add an offset (Q4_1, Q4_K) may differ by one rounding if the compiler fuses the multiply-add.
bool single_rounding(DType t) { return t != DType::kQ4_1 && t != DType::kQ4_K; }

/// Dequantizes row `row` of `t` and compares it with `want[0..dims[0])`; returns the number of mismatches.
int compare_row(const GgufTensor& t, int64_t row, const float* want) {
  const int64_t n = t.dims[0];
  std::vector<float> got(static_cast<size_t>(n), std::nanf(""));
  dequantize_row_ref(t.type, t.data + static_cast<size_t>(row) * t.row_bytes(), got.data(), n);
  float scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(want[i])) scale = std::max(scale, std::fabs(want[i]));
  }
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t gb, wb;
    std::memcpy(&gb, &got[i], 4);
    std::memcpy(&wb, &want[i], 4);
    const bool ok = single_rounding(t.type) ? gb == wb : (gb == wb || std::fabs(got[i] - want[i]) <= 1e-6f * scale);
    if (!ok && ++bad <= 3) {
      ADD_FAILURE() << t.name << " (" << dtype_name(t.type) << ") row " << row << " [" << i << "]: got " << got[i]
                    << ", gguf-py " << want[i];
    }
  }
  return bad;
}

TEST(DequantRef, QuantsGgufMatchesGgufPy) {
  Golden g = load_golden();
  auto f = GgufFile::open(testing::test_data_dir() + "/quants.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  int tensors = 0;
  int64_t elements = 0;
  std::vector<int> seen_types;
  for (const json::value& v : g.index.at("tensors").as_array()) {
    const json::object& e = v.as_object();
    const std::string name(e.at("name").as_string());
    const GgufTensor* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(static_cast<int64_t>(t->type), e.at("type_id").as_int64()) << name;
    ASSERT_EQ(t->num_elements(), e.at("count").as_int64()) << name;
    const int64_t offset = e.at("offset").as_int64();
    ASSERT_LE(offset + t->num_elements(), static_cast<int64_t>(g.values.size()));
    for (int64_t r = 0; r < t->rows(); ++r) {
      EXPECT_EQ(compare_row(*t, r, g.values.data() + offset + r * t->dims[0]), 0) << name << " row " << r;
    }
    ++tensors;
    elements += t->num_elements();
    seen_types.push_back(static_cast<int>(t->type));
  }
  EXPECT_EQ(tensors, 26);
  EXPECT_EQ(elements, 16288 - 6 * 576);
  for (DType d :
       {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ6_K}) {
    EXPECT_NE(std::find(seen_types.begin(), seen_types.end(), static_cast<int>(d)), seen_types.end())
        << "no golden tensor of type " << dtype_name(d);
  }
}

TEST(DequantRef, ModelRowsMatchGgufPy) {
  Golden g = load_golden();
  auto f = GgufFile::open(testing::model_path());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const json::array& rows = g.index.at("model_rows").as_array();
  ASSERT_EQ(rows.size(), 6u);
  for (const json::value& v : rows) {
    const json::object& e = v.as_object();
    const GgufTensor* t = f->find_tensor(std::string(e.at("tensor").as_string()));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(std::string(dtype_name(t->type)), std::string(e.at("type").as_string()));
    ASSERT_EQ(e.at("count").as_int64(), t->dims[0]);
    const int64_t row = e.at("row").as_int64();
    ASSERT_LT(row, t->rows());
    EXPECT_EQ(compare_row(*t, row, g.values.data() + e.at("offset").as_int64()), 0) << t->name << " row " << row;
  }
}

// Hand-built blocks with values that can be checked by eye, independent of the goldens.
TEST(DequantRef, HandBuiltBlocks) {
  std::vector<uint8_t> q4_0(18, 0);
  const uint16_t two = 0x4000;  // 2.0 in fp16
  std::memcpy(q4_0.data(), &two, 2);
  q4_0[2] = 0x9F;  // element 0: low nibble 15 -> (15-8)*2 = 14; element 16: high nibble 9 -> (9-8)*2 = 2
  float y[32];
  dequantize_row_ref(DType::kQ4_0, q4_0.data(), y, 32);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], 2.0f);
  EXPECT_EQ(y[1], -16.0f);  // nibble 0

  std::vector<uint8_t> q8_0(34, 0);
  const uint16_t half = 0x3800;  // 0.5
  std::memcpy(q8_0.data(), &half, 2);
  q8_0[2] = static_cast<uint8_t>(-128);
  q8_0[33] = 127;
  dequantize_row_ref(DType::kQ8_0, q8_0.data(), y, 32);
  EXPECT_EQ(y[0], -64.0f);
  EXPECT_EQ(y[31], 63.5f);

  const uint16_t halfs[3] = {0x3C00, 0x0001, 0xFC00};  // 1, smallest subnormal, -inf
  dequantize_row_ref(DType::kF16, halfs, y, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(y[2], -INFINITY);
  const uint16_t bf[2] = {0x3F80, 0xC040};  // 1, -3
  dequantize_row_ref(DType::kBF16, bf, y, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
  dequantize_row_ref(DType::kQ6_K, nullptr, nullptr, 0);  // empty rows are fine
}

TEST(DequantRefDeathTest, RowLengthMustBeWholeBlocks) {
  std::vector<uint8_t> block(34, 0);
  float y[32];
  EXPECT_DEATH(dequantize_row_ref(DType::kQ8_0, block.data(), y, 31), "dequantize_row_ref");
  EXPECT_DEATH(dequantize_row_ref(DType::kQ8_1, block.data(), y, 32), "unsupported type Q8_1");
}

}  // namespace
}  // namespace podserve
