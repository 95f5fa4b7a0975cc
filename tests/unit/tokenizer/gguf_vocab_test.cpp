// vocab_from_gguf on small GGUF images written in memory: a good vocabulary, and every kind of bad metadata.
#include "model/gguf_vocab.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace podserve {
namespace {

// GGUF value type ids (gguf.md).
constexpr uint32_t kU32 = 4, kI32 = 5, kBool = 7, kString = 8, kArray = 9;

/// Writes a GGUF v3 image with metadata only (no tensors).
class GgufWriter {
 public:
  void u32(std::string_view key, uint32_t v) { kv(key, kU32), pod(v); }
  void boolean(std::string_view key, bool v) { kv(key, kBool), pod(static_cast<uint8_t>(v)); }
  void str(std::string_view key, std::string_view v) { kv(key, kString), string(v); }
  void strings(std::string_view key, const std::vector<std::string>& v) {
    kv(key, kArray), pod(kString), pod(static_cast<uint64_t>(v.size()));
    for (const auto& s : v) string(s);
  }
  void ints(std::string_view key, const std::vector<int32_t>& v) {
    kv(key, kArray), pod(kI32), pod(static_cast<uint64_t>(v.size()));
    for (int32_t x : v) pod(x);
  }
  std::vector<uint8_t> image() const {
    std::vector<uint8_t> out;
    const auto put = [&out](const void* p, size_t n) {
      out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    };
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    put("GGUF", 4);
    put(&version, 4);
    put(&n_tensors, 8);
    put(&n_kv_, 8);
    out.insert(out.end(), body_.begin(), body_.end());
    while (out.size() % 32 != 0) out.push_back(0);
    return out;
  }

 private:
  template <typename T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    body_.insert(body_.end(), p, p + sizeof v);
  }
  void string(std::string_view s) {
    pod(static_cast<uint64_t>(s.size()));
    body_.insert(body_.end(), s.begin(), s.end());
  }
  void kv(std::string_view key, uint32_t type) {
    ++n_kv_;
    string(key);
    pod(type);
  }
  std::vector<uint8_t> body_;
  uint64_t n_kv_ = 0;
};

// A consistent tiny vocabulary; `edit` may change or drop keys by returning early for them.
std::vector<uint8_t> vocab_image(const std::function<bool(GgufWriter&, std::string_view)>& edit = nullptr) {
  GgufWriter w;
  const auto emit = [&](std::string_view key, const std::function<void()>& write) {
    if (edit && edit(w, key)) return;
    write();
  };
  emit("tokenizer.ggml.model", [&] { w.str("tokenizer.ggml.model", "gpt2"); });
  emit("tokenizer.ggml.pre", [&] { w.str("tokenizer.ggml.pre", "smollm"); });
  emit("tokenizer.ggml.tokens",
       [&] { w.strings("tokenizer.ggml.tokens", {"<|end|>", "a", "b", "ab", "Ġ", "Ġab", "1"}); });
  emit("tokenizer.ggml.token_type", [&] { w.ints("tokenizer.ggml.token_type", {3, 1, 1, 1, 1, 1, 1}); });
  emit("tokenizer.ggml.merges", [&] { w.strings("tokenizer.ggml.merges", {"a b", "Ġ ab"}); });
  emit("tokenizer.ggml.eos_token_id", [&] { w.u32("tokenizer.ggml.eos_token_id", 0); });
  emit("tokenizer.ggml.add_bos_token", [&] { w.boolean("tokenizer.ggml.add_bos_token", false); });
  return w.image();
}

Result<VocabData> read_vocab(const std::vector<uint8_t>& image) {
  Result<GgufFile> file = GgufFile::parse(image.data(), image.size(), "test.gguf");
  if (!file.ok()) return file.status();
  return vocab_from_gguf(*file);
}

void expect_invalid(const std::vector<uint8_t>& image, const std::string& needle) {
  Result<VocabData> v = read_vocab(image);
  ASSERT_FALSE(v.ok()) << needle;
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << v.status().to_string();
  EXPECT_NE(v.status().message().find(needle), std::string::npos) << v.status().message();
}

TEST(GgufVocabTest, ReadsAllKeys) {
  Result<VocabData> v = read_vocab(vocab_image());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->model, "gpt2");
  EXPECT_EQ(v->pre, "smollm");
  EXPECT_EQ(v->tokens.size(), 7u);
  ASSERT_EQ(v->token_types.size(), 7u);
  EXPECT_EQ(v->token_types[0], TokenType::kControl);
  EXPECT_EQ(v->merges, (std::vector<std::string>{"a b", "Ġ ab"}));
  EXPECT_EQ(v->eos_id, 0);
  EXPECT_EQ(v->bos_id, -1);
  EXPECT_EQ(v->unk_id, -1);
  EXPECT_FALSE(v->add_bos);

  Result<Tokenizer> t = Tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->encode("ab ab11<|end|>", false), (std::vector<int32_t>{3, 5, 6, 6, 0}));
  EXPECT_EQ(t->decode(std::vector<int32_t>{3, 5, 0}, true), "ab ab");
}

TEST(GgufVocabTest, MissingPreMeansDefault) {
  Result<VocabData> v = read_vocab(vocab_image([](GgufWriter&, std::string_view key) {
    return key == "tokenizer.ggml.pre";
  }));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->pre, "default");
}

TEST(GgufVocabTest, BadMetadataIsInvalidArgument) {
  const auto drop = [](std::string_view dropped) {
    return vocab_image([dropped](GgufWriter&, std::string_view key) { return key == dropped; });
  };
  expect_invalid(drop("tokenizer.ggml.model"), "tokenizer.ggml.model");
  expect_invalid(drop("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens");
  expect_invalid(drop("tokenizer.ggml.merges"), "tokenizer.ggml.merges");

  const auto replace = [](std::string_view target, std::function<void(GgufWriter&)> write) {
    return vocab_image([target, write](GgufWriter& w, std::string_view key) {
      if (key != target) return false;
      write(w);
      return true;
    });
  };
  expect_invalid(replace("tokenizer.ggml.model", [](GgufWriter& w) { w.str("tokenizer.ggml.model", "bert"); }),
                 "unsupported tokenizer.ggml.model 'bert' (supported: gpt2, llama)");
  // A llama (SentencePiece) vocabulary needs its scores.
  expect_invalid(replace("tokenizer.ggml.model", [](GgufWriter& w) { w.str("tokenizer.ggml.model", "llama"); }),
                 "tokenizer.ggml.scores");
  expect_invalid(replace("tokenizer.ggml.token_type",
                         [](GgufWriter& w) { w.ints("tokenizer.ggml.token_type", {3, 1, 1}); }),
                 "tokenizer.ggml.token_type has 3 entries");
  expect_invalid(replace("tokenizer.ggml.token_type",
                         [](GgufWriter& w) { w.ints("tokenizer.ggml.token_type", {3, 1, 1, 1, 1, 9, 1}); }),
                 "token_type[5] = 9");
  expect_invalid(replace("tokenizer.ggml.eos_token_id",
                         [](GgufWriter& w) { w.u32("tokenizer.ggml.eos_token_id", 7); }),
                 "tokenizer.ggml.eos_token_id = 7");
  expect_invalid(replace("tokenizer.ggml.tokens", [](GgufWriter& w) { w.strings("tokenizer.ggml.tokens", {}); }),
                 "empty");
  expect_invalid(replace("tokenizer.ggml.tokens", [](GgufWriter& w) { w.u32("tokenizer.ggml.tokens", 3); }),
                 "tokenizer.ggml.tokens");
  expect_invalid(replace("tokenizer.ggml.add_bos_token",
                         [](GgufWriter& w) { w.str("tokenizer.ggml.add_bos_token", "yes"); }),
                 "tokenizer.ggml.add_bos_token");
}

}  // namespace
}  // namespace podserve
