// GGUF reader: the real model, the quants.gguf golden (metadata as gguf-py reads it), and corrupt input.
#include "io/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

std::string quants_path() { return testing::test_data_dir() + "/quants.gguf"; }

json::value load_golden() {
  return json::parse(testing::read_file(testing::test_data_dir() + "/quants_expected.json"));
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::string s = testing::read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// ---- The real model ----

TEST(GgufModel, ParsesSmolLM2) {
  auto f = GgufFile::open(testing::model_path());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);  // no general.alignment key: the default
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(f->metadata().size(), 33u);
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("llama.block_count").value(), 30);
  EXPECT_EQ(f->get_int("llama.embedding_length").value(), 576);
  EXPECT_NEAR(f->get_float("llama.attention.layer_norm_rms_epsilon").value(), 1e-5, 1e-12);
  auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().to_string();
  EXPECT_EQ(tokens->size(), 49152u);
  auto token_type = f->get_int_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(token_type.ok());
  EXPECT_EQ(token_type->size(), 49152u);
  EXPECT_TRUE(f->get_string_array("tokenizer.ggml.merges").ok());

  const GgufTensor* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, DType::kQ8_0);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{576, 49152}));
  EXPECT_EQ(embd->rows(), 49152);
  EXPECT_EQ(embd->row_bytes(), 612u);
  EXPECT_EQ(embd->nbytes, 612u * 49152u);
  EXPECT_EQ(f->find_tensor("no.such.tensor"), nullptr);
  for (const GgufTensor& t : f->tensors()) {
    EXPECT_EQ(t.file_offset % 32, 0u) << t.name;
    EXPECT_EQ(static_cast<size_t>(t.rows()) * t.row_bytes(), t.nbytes) << t.name;
    EXPECT_EQ(f->find_tensor(t.name), &t);
  }
}

TEST(GgufModel, TruncatedModelHeaderFails) {
  // A few cuts through the model's ~1.7 MB metadata (inside the token and merge arrays); each prefix is a fresh
  // exact-size buffer so ASan catches any read past its end. quants.gguf below gets the exhaustive treatment.
  std::vector<uint8_t> bytes = file_bytes(testing::model_path());
  auto full = GgufFile::parse(bytes.data(), bytes.size(), "model");
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  const size_t header_end = full->data_offset();
  for (size_t len = 1; len < header_end; len += header_end / 9 + 1) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
    auto f = GgufFile::parse(prefix.data(), prefix.size(), "model-prefix");
    EXPECT_FALSE(f.ok()) << "prefix of " << len << " bytes parsed";
  }
}

// ---- quants.gguf metadata against the golden ----

uint64_t json_u64(const json::value& v) { return v.is_uint64() ? v.get_uint64() : static_cast<uint64_t>(v.as_int64()); }
int64_t json_i64(const json::value& v) { return v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.as_uint64()); }
double json_hex_double(const json::value& v) { return std::strtod(v.as_string().c_str(), nullptr); }

/// Compares one value with the golden scalar of GGUF type `type` (a type name such as "UINT8").
void expect_scalar(const GgufValue& got, const std::string& type, const json::value& want, const std::string& where) {
  SCOPED_TRACE(where + " (" + type + ")");
  if (type == "STRING") {
    ASSERT_TRUE(std::holds_alternative<std::string>(got.v));
    EXPECT_EQ(std::get<std::string>(got.v), std::string(want.as_string()));
  } else if (type == "BOOL") {
    ASSERT_TRUE(std::holds_alternative<bool>(got.v));
    EXPECT_EQ(std::get<bool>(got.v), want.as_bool());
  } else if (type == "FLOAT32" || type == "FLOAT64") {
    ASSERT_TRUE(std::holds_alternative<double>(got.v));
    EXPECT_EQ(std::get<double>(got.v), json_hex_double(want));  // exact: floats widen losslessly
  } else if (type.rfind("UINT", 0) == 0) {
    ASSERT_TRUE(std::holds_alternative<uint64_t>(got.v));
    EXPECT_EQ(std::get<uint64_t>(got.v), json_u64(want));
  } else if (type.rfind("INT", 0) == 0) {
    ASSERT_TRUE(std::holds_alternative<int64_t>(got.v));
    EXPECT_EQ(std::get<int64_t>(got.v), json_i64(want));
  } else {
    FAIL() << "golden has unknown type " << type;
  }
}

/// `node` is {"type": T, "value": v} or {"type": "ARRAY", "elem_type": E, "value": [...]}.
void expect_node(const GgufValue& got, const json::object& node, const std::string& where) {
  const std::string type(node.at("type").as_string());
  if (type != "ARRAY") return expect_scalar(got, type, node.at("value"), where);
  const auto* arr = std::get_if<std::shared_ptr<GgufValue::Array>>(&got.v);
  ASSERT_TRUE(arr != nullptr && *arr != nullptr) << where << " is not an array";
  const std::string elem(node.at("elem_type").as_string());
  const json::array& want = node.at("value").as_array();
  ASSERT_EQ((*arr)->size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (elem == "ARRAY") {
      expect_node((**arr)[i], want[i].as_object(), at);
    } else {
      expect_scalar((**arr)[i], elem, want[i], at);
    }
  }
}

TEST(GgufQuants, MetadataMatchesGguFPy) {
  json::value golden = load_golden();
  auto f = GgufFile::open(quants_path());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), static_cast<uint64_t>(golden.at("alignment").as_int64()));
  const json::object& metadata = golden.at("metadata").as_object();
  EXPECT_EQ(f->metadata().size(), metadata.size());
  for (const auto& [key, node] : metadata) {
    const GgufValue* v = f->find(key);
    ASSERT_NE(v, nullptr) << "missing key " << key;
    expect_node(*v, node.as_object(), std::string(key));
  }
  const json::array& tensors = golden.at("tensors").as_array();
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const json::object& want = tensors[i].as_object();
    const GgufTensor& t = f->tensors()[i];  // file order is the golden's order
    EXPECT_EQ(t.name, std::string(want.at("name").as_string()));
    EXPECT_EQ(static_cast<int64_t>(t.type), want.at("type_id").as_int64()) << t.name;
    std::vector<int64_t> dims;
    for (const json::value& d : want.at("dims").as_array()) dims.push_back(d.as_int64());
    EXPECT_EQ(t.dims, dims) << t.name;
    EXPECT_EQ(t.file_offset % 64, 0u) << t.name;
  }
}

TEST(GgufQuants, TypedAccessors) {
  auto f = GgufFile::open(quants_path());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->get_int("test.u32").value(), 4000000000);
  EXPECT_EQ(f->get_int("test.i8").value(), -100);
  EXPECT_EQ(f->get_int("test.i64").value(), -(int64_t{1} << 62) - 7);
  EXPECT_EQ(f->get_float("test.i16").value(), -30000.0);
  EXPECT_EQ(f->get_float("test.f64").value(), 2.718281828459045);
  EXPECT_EQ(f->get_bool("test.bool_true").value(), true);
  EXPECT_EQ(f->get_string("test.string_empty").value(), "");
  EXPECT_EQ(f->get_string_array("test.array_string").value().size(), 5u);
  EXPECT_EQ(f->get_int_array("test.array_i32").value(), (std::vector<int64_t>{1, -2, 3, 2147483647, -2147483648LL}));
  EXPECT_EQ(f->get_float_array("test.array_u8").value(), (std::vector<double>{0, 1, 255}));
  EXPECT_TRUE(f->has("test.u8"));
  EXPECT_FALSE(f->has("test.nope"));

  auto missing = f->get_int("test.nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("test.nope"), std::string::npos);
  // Wrong types and values that do not fit are InvalidArgument naming the key.
  for (auto st : {f->get_int("test.u64").status(), f->get_string("test.u8").status(), f->get_bool("test.u8").status(),
                  f->get_float("test.string").status(), f->get_int_array("test.array_u64").status(),
                  f->get_string_array("test.array_i32").status(), f->get_float_array("test.array_nested_i32").status(),
                  f->get_string_array("test.u8").status()}) {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
    EXPECT_NE(st.message().find("'test."), std::string::npos) << st.to_string();
  }
}

TEST(GgufQuants, EveryTruncationFails) {
  std::vector<uint8_t> bytes = file_bytes(quants_path());
  auto full = GgufFile::parse(bytes.data(), bytes.size(), "quants");
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  // The file may end in padding after the last tensor; only prefixes shorter than the data end must fail.
  size_t data_end = 0;
  for (const GgufTensor& t : full->tensors()) data_end = std::max<size_t>(data_end, t.file_offset + t.nbytes);
  ASSERT_LE(data_end, bytes.size());
  int checked = 0;
  for (size_t len = 0; len < data_end; len += (len < full->data_offset() ? 1 : 61)) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
    auto f = GgufFile::parse(prefix.data(), prefix.size(), "quants-prefix");
    ASSERT_FALSE(f.ok()) << "prefix of " << len << " bytes parsed";
    EXPECT_EQ(f.status().code(), StatusCode::kDataLoss) << len << ": " << f.status().to_string();
    EXPECT_NE(f.status().message().find("quants-prefix"), std::string::npos) << f.status().to_string();
    ++checked;
  }
  EXPECT_GT(checked, 1000);
  auto last = GgufFile::parse(bytes.data(), data_end, "exact-end");
  EXPECT_TRUE(last.ok()) << last.status().to_string();
}

// ---- Corrupt input, built byte by byte ----

constexpr uint64_t kHuge = uint64_t{1} << 62;

/// Knobs for a tiny GGUF: one string KV, one u32 array KV, one Q8_0 tensor {32, 2} (68 bytes of data).
struct Spec {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count, kv_count, key_len, string_len, array_count;
  uint32_t string_type = 8;  // value type of the first KV
  uint32_t array_elem_type = 4;
  std::optional<uint32_t> alignment;  // adds general.alignment (u32) when set
  uint32_t n_dims = 2;
  std::vector<uint64_t> dims = {32, 2};
  uint32_t tensor_type = 8;
  uint64_t offset = 0;
  bool duplicate_key = false, duplicate_tensor = false;
  size_t data_bytes = 68;
};

class Builder {
 public:
  template <typename T>
  Builder& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof v);
    return *this;
  }
  Builder& str(const std::string& s, std::optional<uint64_t> len = std::nullopt) {
    put<uint64_t>(len.value_or(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> build(const Spec& s) {
  Builder b;
  const uint64_t n_tensors = s.duplicate_tensor ? 2 : 1;
  const uint64_t n_kv = 2 + (s.duplicate_key ? 1 : 0) + (s.alignment ? 1 : 0);
  b.put(s.magic).put(s.version).put(s.tensor_count.value_or(n_tensors)).put(s.kv_count.value_or(n_kv));
  b.str("general.name", s.key_len).put(s.string_type).str("tiny", s.string_len);
  b.str("test.array").put<uint32_t>(9).put(s.array_elem_type).put(s.array_count.value_or(2));
  b.put<uint32_t>(7).put<uint32_t>(8);
  if (s.duplicate_key) b.str("general.name").put<uint32_t>(8).str("again");
  if (s.alignment) b.str("general.alignment").put<uint32_t>(4).put(*s.alignment);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    b.str("w").put(s.n_dims);
    for (uint32_t d = 0; d < s.n_dims; ++d) b.put(d < s.dims.size() ? s.dims[d] : uint64_t{1});
    b.put(s.tensor_type).put(s.offset + i * 96);
  }
  const size_t align = s.alignment.value_or(32);
  while (align != 0 && b.bytes.size() % align != 0) b.put<uint8_t>(0);
  b.bytes.resize(b.bytes.size() + s.data_bytes + (n_tensors - 1) * 96, 0x11);
  return b.bytes;
}

/// Parses `s`'s bytes and expects failure with `code` and a message containing every part of `want`.
void expect_error(const Spec& s, StatusCode code, std::vector<std::string> want) {
  std::vector<uint8_t> bytes = build(s);
  auto f = GgufFile::parse(bytes.data(), bytes.size(), "tiny.gguf");
  ASSERT_FALSE(f.ok()) << "parsed";
  EXPECT_EQ(f.status().code(), code) << f.status().to_string();
  want.push_back("'tiny.gguf'");
  for (const std::string& w : want) EXPECT_NE(f.status().message().find(w), std::string::npos) << f.status().message();
}

TEST(GgufCorrupt, BaselineSpecParses) {
  for (std::optional<uint32_t> alignment : {std::optional<uint32_t>{}, std::optional<uint32_t>{64}}) {
    Spec s;
    s.alignment = alignment;
    std::vector<uint8_t> bytes = build(s);
    auto f = GgufFile::parse(bytes.data(), bytes.size(), "tiny.gguf");
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->get_string("general.name").value(), "tiny");
    EXPECT_EQ(f->get_int_array("test.array").value(), (std::vector<int64_t>{7, 8}));
    ASSERT_EQ(f->tensors().size(), 1u);
    EXPECT_EQ(f->tensors()[0].nbytes, 68u);
    EXPECT_EQ(f->tensors()[0].data[0], 0x11);
  }
  Spec v2;
  v2.version = 2;
  std::vector<uint8_t> bytes = build(v2);
  EXPECT_TRUE(GgufFile::parse(bytes.data(), bytes.size(), "v2").ok());
}

TEST(GgufCorrupt, Header) {
  Spec s;
  s.magic = 0x46554748;
  expect_error(s, StatusCode::kInvalidArgument, {"not a GGUF file"});
  for (uint32_t v : {1u, 4u, 0x03000000u}) {
    Spec sv;
    sv.version = v;
    expect_error(sv, StatusCode::kInvalidArgument, {"unsupported GGUF version " + std::to_string(v)});
  }
  Spec tc;
  tc.tensor_count = kHuge;
  expect_error(tc, StatusCode::kDataLoss, {"tensor count 4611686018427387904"});
  Spec kc;
  kc.kv_count = kHuge;
  expect_error(kc, StatusCode::kDataLoss, {"metadata count"});
  std::vector<uint8_t> empty;
  EXPECT_EQ(GgufFile::parse(empty.data(), 0, "empty").status().code(), StatusCode::kDataLoss);
}

TEST(GgufCorrupt, Metadata) {
  Spec kl;
  kl.key_len = kHuge;
  expect_error(kl, StatusCode::kDataLoss, {"key of metadata entry 0", "length 4611686018427387904"});
  Spec sl;
  sl.string_len = kHuge;
  expect_error(sl, StatusCode::kDataLoss, {"string value of key 'general.name'"});
  Spec ac;
  ac.array_count = kHuge;
  expect_error(ac, StatusCode::kDataLoss, {"'test.array'", "array of 4611686018427387904 elements"});
  Spec vt;
  vt.string_type = 13;
  expect_error(vt, StatusCode::kDataLoss, {"'general.name'", "unknown value type 13"});
  Spec et;
  et.array_elem_type = 99;
  expect_error(et, StatusCode::kDataLoss, {"'test.array'", "array of unknown value type 99"});
  Spec dup;
  dup.duplicate_key = true;
  expect_error(dup, StatusCode::kDataLoss, {"duplicate metadata key 'general.name'"});
  for (uint32_t a : {0u, 48u}) {
    Spec al;
    al.alignment = a;
    expect_error(al, StatusCode::kInvalidArgument, {"general.alignment " + std::to_string(a)});
  }
}

TEST(GgufCorrupt, NestedArraysTooDeep) {
  Builder b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).str("deep").put<uint32_t>(9);
  for (int i = 0; i < 1000; ++i) b.put<uint32_t>(9).put<uint64_t>(1);  // array of array of ...
  auto f = GgufFile::parse(b.bytes.data(), b.bytes.size(), "deep.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("nested deeper"), std::string::npos) << f.status().message();
}

TEST(GgufCorrupt, TensorInfo) {
  Spec nd;
  nd.n_dims = 5;
  expect_error(nd, StatusCode::kDataLoss, {"tensor 'w' has 5 dimensions"});
  Spec nd0;
  nd0.n_dims = 0;
  expect_error(nd0, StatusCode::kDataLoss, {"tensor 'w' has 0 dimensions"});
  Spec neg;
  neg.dims = {32, ~uint64_t{0}};  // -1 as int64
  expect_error(neg, StatusCode::kDataLoss, {"tensor 'w' has dimension 1", "negative"});
  Spec big;
  big.dims = {kHuge, 4};  // each fits int64, the product does not
  expect_error(big, StatusCode::kDataLoss, {"tensor 'w'", "overflows"});
  Spec blk;
  blk.dims = {48, 2};
  expect_error(blk, StatusCode::kDataLoss, {"tensor 'w'", "row length 48, not a multiple of 32"});
  Spec tt;
  tt.tensor_type = 10;
  expect_error(tt, StatusCode::kInvalidArgument, {"tensor 'w'", "unsupported ggml type 10 (Q2_K)"});
  Spec tt2;
  tt2.tensor_type = 1000;
  expect_error(tt2, StatusCode::kInvalidArgument, {"unsupported ggml type 1000"});
  Spec mis;
  mis.offset = 8;
  expect_error(mis, StatusCode::kDataLoss, {"tensor 'w' has data offset 8, not a multiple of the alignment 32"});
  Spec oob;
  oob.offset = 32;
  expect_error(oob, StatusCode::kDataLoss, {"data of tensor 'w'", "outside the file"});
  Spec huge_off;
  huge_off.offset = ~uint64_t{0} - 31;  // aligned; start + size wraps around
  expect_error(huge_off, StatusCode::kDataLoss, {"data of tensor 'w'", "outside the file"});
  Spec short_data;
  short_data.data_bytes = 67;
  expect_error(short_data, StatusCode::kDataLoss, {"data of tensor 'w' (68 bytes"});
  Spec dup;
  dup.duplicate_tensor = true;
  expect_error(dup, StatusCode::kDataLoss, {"duplicate tensor 'w'"});
}

TEST(GgufCorrupt, Files) {
  auto missing = GgufFile::open("/nonexistent/dir/model.gguf");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/model.gguf"), std::string::npos);

  char path[] = "/tmp/podserve_gguf_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto empty = GgufFile::open(path);
  EXPECT_EQ(empty.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(empty.status().message().find(path), std::string::npos) << empty.status().message();
  {
    std::ofstream out(path, std::ios::binary);
    out << "GGUF\x01";
  }
  auto tiny = GgufFile::open(path);
  EXPECT_EQ(tiny.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(tiny.status().message().find(path), std::string::npos) << tiny.status().message();
  unlink(path);
}

}  // namespace
}  // namespace podserve
