// Model tier: Gemma 3 270M's GGUF vocabulary (SentencePiece, 262,144 tokens, byte fallback, control tokens)
// against llama.cpp's own tokenizer on the same file, from goldens written by tools/goldens/gemma3_tokenizer.py.
// The model file comes from scripts/fetch-model-gemma3 (`make test` runs it); a missing file fails here.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace podserve {
namespace {

namespace json = boost::json;

std::string gemma3_path() {
  const char* p = std::getenv("PODSERVE_TEST_MODEL_GEMMA3");
  return p ? p : "";
}

std::vector<int32_t> ids_of(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class Gemma3TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = gemma3_path();
    ASSERT_FALSE(path.empty()) << "PODSERVE_TEST_MODEL_GEMMA3 is not set (run through ctest)";
    Result<GgufFile> file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.status().to_string() << " (run scripts/fetch-model-gemma3)";
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    Result<VocabData> vocab = vocab_from_gguf(*file);
    ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
    Result<Tokenizer> tok = Tokenizer::create(*vocab);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    // Reported, not asserted (no timing assertions): the load time of the 262k-token vocabulary. CPU time too,
    // since wall time on a shared machine mostly measures the other processes.
    std::printf("gemma3 tokenizer from GGUF metadata: %.3f s wall, %.3f s CPU\n", seconds_since(start),
                static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
    tokenizer_ = new Tokenizer(std::move(tok).value());
    goldens_ = new json::value(json::parse(testing::read_file(testing::test_data_dir() + "/tokenizer_gemma3.json")));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete goldens_;
  }
  static Tokenizer* tokenizer_;
  static json::value* goldens_;
};
Tokenizer* Gemma3TokenizerTest::tokenizer_ = nullptr;
json::value* Gemma3TokenizerTest::goldens_ = nullptr;

TEST_F(Gemma3TokenizerTest, VocabularyMatchesLlamaCpp) {
  ASSERT_NE(tokenizer_, nullptr);
  EXPECT_EQ(tokenizer_->vocab_size(), goldens_->at("vocab_size").as_int64());
  EXPECT_EQ(tokenizer_->bos_id(), goldens_->at("bos_id").as_int64());
  EXPECT_EQ(tokenizer_->eos_id(), goldens_->at("eos_id").as_int64());
  EXPECT_EQ(tokenizer_->token_text(2), "<bos>");
  EXPECT_TRUE(tokenizer_->is_special(tokenizer_->find_token("<start_of_turn>")));
}

TEST_F(Gemma3TokenizerTest, IdsMatchLlamaCpp) {
  ASSERT_NE(tokenizer_, nullptr);
  const auto& cases = goldens_->at("cases").as_array();
  ASSERT_GE(cases.size(), 250u);
  const int32_t bos = tokenizer_->bos_id();
  int mismatches = 0;
  for (const auto& c : cases) {
    const std::string text = json::value_to<std::string>(c.at("text"));
    SCOPED_TRACE(text);
    const auto ids = ids_of(c.at("ids"));
    const auto got = tokenizer_->encode(text, /*add_special_tokens=*/false, /*parse_special=*/true);
    EXPECT_EQ(got, ids);
    mismatches += got != ids;
    const auto no_special = c.as_object().contains("ids_no_special") ? ids_of(c.at("ids_no_special")) : ids;
    EXPECT_EQ(tokenizer_->encode(text, false, /*parse_special=*/false), no_special);
    // add_bos_token is true in the GGUF: llama.cpp puts BOS first.
    std::vector<int32_t> with_bos = {bos};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    EXPECT_EQ(tokenizer_->encode(text, /*add_special_tokens=*/true, true), with_bos);
  }
  std::printf("%zu texts, %d id mismatches against llama.cpp\n", cases.size(), mismatches);
}

TEST_F(Gemma3TokenizerTest, DecodeMatchesLlamaCpp) {
  ASSERT_NE(tokenizer_, nullptr);
  for (const auto& c : goldens_->at("cases").as_array()) {
    const std::string text = json::value_to<std::string>(c.at("text"));
    SCOPED_TRACE(text);
    const auto& o = c.as_object();
    const std::string expected = o.contains("decoded") ? json::value_to<std::string>(c.at("decoded")) : text;
    EXPECT_EQ(tokenizer_->decode(ids_of(c.at("ids")), /*skip_special_tokens=*/false), expected);
  }
}

}  // namespace
}  // namespace podserve
