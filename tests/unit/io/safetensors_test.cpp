// safetensors reader: files written by the official `safetensors` package (tools/goldens/tiny_models.py) load
// with the shapes and values it wrote; corrupt headers (built here byte by byte) give a clear error, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/fp16.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace podserve {
namespace {

// Pads the header with spaces to a multiple of 8 bytes, as the official writer does.
std::vector<uint8_t> image(std::string header, size_t data_bytes) {
  if (!header.empty() && header[0] == '{') header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

Status parse_status(const std::vector<uint8_t>& bytes) {
  auto r = SafetensorsModel::parse(bytes.data(), bytes.size(), "test.safetensors");
  return r.status();
}

void expect_error(const std::string& header, size_t data_bytes, const std::string& needle) {
  std::vector<uint8_t> bytes = image(header, data_bytes);
  Status s = parse_status(bytes);
  EXPECT_FALSE(s.ok()) << header;
  EXPECT_NE(s.message().find(needle), std::string::npos) << "message: " << s.message();
}

TEST(Safetensors, ParsesAValidImage) {
  const std::string h =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::vector<uint8_t> bytes = image(h, 12);
  const float a[2] = {1.5f, -2.0f};
  std::memcpy(bytes.data() + bytes.size() - 12, a, 8);
  auto m = SafetensorsModel::parse(bytes.data(), bytes.size(), "x");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_NE(m->find("a"), nullptr);
  EXPECT_EQ(m->find("a")->type, DType::kF32);
  EXPECT_EQ(reinterpret_cast<const float*>(m->find("a")->data)[1], -2.0f);
  EXPECT_EQ(m->find("b")->type, DType::kF16);
  EXPECT_EQ(m->metadata().at("format"), "pt");
}

TEST(Safetensors, RejectsCorruptHeaders) {
  // Shorter than the length prefix, and a length that runs past the file.
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_NE(parse_status(tiny).message().find("too short"), std::string::npos);
  std::vector<uint8_t> bytes = image("{}", 0);
  const uint64_t huge = 1ull << 62;
  std::memcpy(bytes.data(), &huge, 8);
  EXPECT_NE(parse_status(bytes).message().find("exceeds"), std::string::npos);
  const uint64_t past = 1000;
  std::memcpy(bytes.data(), &past, 8);
  EXPECT_NE(parse_status(bytes).message().find("past the end"), std::string::npos);

  expect_error("[1,2]", 0, "does not start with '{'");
  expect_error("{\"a\":", 0, "not valid JSON");
  expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}, garbage", 4, "not valid JSON");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4,
               "duplicate tensor name 'a'");
  expect_error(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8, "dtype F64");
  expect_error(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4, "no string 'dtype'");
  expect_error(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4, "no 'shape'");
  expect_error(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, "data_offsets must be");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4, "end < begin");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4, "need 8 bytes");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4000000000000]}})", 4, "outside the data buffer");
  // Huge counts: a shape whose byte size overflows 64 bits.
  expect_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4, "overflowing");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8, "overlaps");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, "hole");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12, "cover 4 bytes");
  expect_error(R"({"__metadata__":{"format":1}})", 0, "must be strings");
  expect_error(R"({"a":[1,2]})", 0, "is not an object");
}

TEST(Safetensors, RejectsGarbageWithoutCrashing) {
  // Every truncation of a valid image, and byte flips in the header, must fail cleanly (ASan watches reads).
  const std::string h = R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}})";
  std::vector<uint8_t> good = image(h, 12);
  ASSERT_TRUE(parse_status(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_status(cut).ok()) << n;
  }
  for (size_t i = 8; i < 8 + h.size(); ++i) {
    std::vector<uint8_t> flipped = good;
    flipped[i] ^= 0x5a;
    (void)parse_status(flipped);  // may or may not parse; must not crash
  }
}

// Files the `safetensors` package wrote: one file, and the same tensors as two shards with an index.
TEST(Safetensors, ReadsFilesFromTheReferenceWriter) {
  const std::string dir = testing::test_data_dir() + "/tiny_models/llama";
  auto single = SafetensorsModel::open(dir + "/f32");
  ASSERT_TRUE(single.ok()) << single.status().to_string();
  auto sharded = SafetensorsModel::open(dir + "/sharded");
  ASSERT_TRUE(sharded.ok()) << sharded.status().to_string();
  ASSERT_EQ(single->tensors().size(), sharded->tensors().size());
  for (const auto& [name, t] : single->tensors()) {
    const SafetensorsTensor* s = sharded->find(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->shape, t.shape) << name;
    ASSERT_EQ(s->nbytes, t.nbytes) << name;
    EXPECT_EQ(std::memcmp(s->data, t.data, t.nbytes), 0) << name;
  }
  const SafetensorsTensor* e = single->find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape.size(), 2u);
  auto bf16 = SafetensorsModel::open(dir + "/bf16/model.safetensors");
  ASSERT_TRUE(bf16.ok()) << bf16.status().to_string();
  const SafetensorsTensor* eb = bf16->find("model.embed_tokens.weight");
  ASSERT_NE(eb, nullptr);
  EXPECT_EQ(eb->type, DType::kBF16);
  // bf16 is the top half of the f32 bits, rounded to nearest even: within one bf16 ulp.
  const float* f = reinterpret_cast<const float*>(e->data);
  const uint16_t* b = reinterpret_cast<const uint16_t*>(eb->data);
  for (int64_t i = 0; i < e->num_elements(); ++i) {
    uint32_t bits = static_cast<uint32_t>(b[i]) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    EXPECT_NEAR(v, f[i], std::fabs(f[i]) / 128.0f + 1e-30f) << i;
  }
  auto missing = SafetensorsModel::open(dir + "/no-such-dir");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace podserve
