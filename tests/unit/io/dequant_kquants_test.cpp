// Reference dequantization of the formats llama.cpp's own quantizer writes (Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, Q8_0):
// rows of tests/data/kquants/blocks.gguf (copied byte for byte from llama_model_quantize output by
// tools/goldens/kquants.py) against gguf-py's dequantizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "kernels/ref/dequant.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

TEST(DequantRef, LlamaCppBlocksMatchGgufPy) {
  const std::string dir = testing::test_data_dir() + "/kquants";
  const json::value index = json::parse(testing::read_file(dir + "/blocks_expected.json"));
  const std::string bin = testing::read_file(dir + "/blocks_expected.bin");
  std::vector<float> want(bin.size() / sizeof(float));
  std::memcpy(want.data(), bin.data(), want.size() * sizeof(float));
  ASSERT_EQ(static_cast<int64_t>(want.size()), index.at("value_count").as_int64());
  auto f = GgufFile::open(dir + "/blocks.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  std::set<std::string> types;
  for (const json::value& v : index.at("tensors").as_array()) {
    const json::object& e = v.as_object();
    const std::string name(e.at("name").as_string());
    const GgufTensor* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(static_cast<int64_t>(t->type), e.at("type_id").as_int64()) << name;
    ASSERT_EQ(std::string(dtype_name(t->type)), std::string(e.at("type").as_string())) << name;
    ASSERT_EQ(t->num_elements(), e.at("count").as_int64()) << name;
    const int64_t offset = e.at("offset").as_int64();
    ASSERT_LE(offset + t->num_elements(), static_cast<int64_t>(want.size()));
    const int64_t n = t->dims[0];
    std::vector<float> got(static_cast<size_t>(n));
    for (int64_t r = 0; r < t->rows(); ++r) {
      dequantize_row_ref(t->type, t->data + static_cast<size_t>(r) * t->row_bytes(), got.data(), n);
      const float* w = want.data() + offset + r * n;
      float scale = 0.0f;
      for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(w[i]));
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        // Q5_1/Q4_K/Q5_K add an offset: one rounding apart if the compiler fuses the multiply-add.
        if (!(got[i] == w[i] || std::fabs(got[i] - w[i]) <= 1e-6f * scale) && ++bad <= 3) {
          ADD_FAILURE() << name << " row " << r << " [" << i << "]: got " << got[i] << ", gguf-py " << w[i];
        }
      }
      EXPECT_EQ(bad, 0) << name << " row " << r;
    }
    types.insert(dtype_name(t->type));
  }
  EXPECT_EQ(types, (std::set<std::string>{"Q4_K", "Q5_K", "Q6_K", "Q5_0", "Q5_1", "Q8_0"}));
}

}  // namespace
}  // namespace podserve
