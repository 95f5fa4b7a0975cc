// Tokenizer built from the SmolLM2 GGUF vocabulary vs. HF `tokenizers` goldens (tools/goldens/tokenizer.py),
// plus special tokens, invalid input, the incremental detokenizer and bad VocabData.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "test_util.h"

namespace podserve {
namespace {

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
  std::string decoded, decoded_skip_special;
};

// Loaded once: building the 49k-token vocabulary for every test would dominate the run time.
struct Shared {
  std::optional<VocabData> vocab;
  std::optional<Tokenizer> tokenizer;
  std::vector<GoldenCase> cases;
};

Shared& shared() {
  static Shared* s = [] {
    auto* st = new Shared;
    Result<GgufFile> file = GgufFile::open(testing::model_path());
    if (!file.ok()) return st;
    Result<VocabData> vocab = vocab_from_gguf(*file);
    if (!vocab.ok()) return st;
    st->vocab = *vocab;
    Result<Tokenizer> tok = Tokenizer::create(std::move(vocab).value());
    if (tok.ok()) st->tokenizer.emplace(std::move(tok).value());
    const std::string json = testing::read_file(testing::test_data_dir() + "/tokenizer_smollm2.json");
    boost::system::error_code ec;
    boost::json::value root = boost::json::parse(json, ec);
    if (ec) return st;
    for (const auto& c : root.at("cases").as_array()) {
      GoldenCase g;
      g.text = std::string(c.at("text").as_string());
      for (const auto& id : c.at("ids").as_array()) g.ids.push_back(static_cast<int32_t>(id.as_int64()));
      g.decoded = std::string(c.at("decoded").as_string());
      g.decoded_skip_special = std::string(c.at("decoded_skip_special").as_string());
      st->cases.push_back(std::move(g));
    }
    return st;
  }();
  return *s;
}

// Independent of the implementation's own UTF-8 code.
bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (b < 0x80) { n = 1; cp = b; }
    else if ((b & 0xE0) == 0xC0) { n = 2; cp = b & 0x1F; }
    else if ((b & 0xF0) == 0xE0) { n = 3; cp = b & 0x0F; }
    else if ((b & 0xF8) == 0xF0) { n = 4; cp = b & 0x07; }
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared().tokenizer.has_value()) << "could not load the tokenizer from " << testing::model_path();
    ASSERT_GT(shared().cases.size(), 75u) << "golden file missing or incomplete";
  }
  const Tokenizer& tok() { return *shared().tokenizer; }
  const std::vector<GoldenCase>& cases() { return shared().cases; }
};

TEST_F(TokenizerTest, VocabularyFromGguf) {
  const VocabData& v = *shared().vocab;
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_EQ(tok().vocab_size(), 49152);
  EXPECT_EQ(v.merges.size(), 48900u);
  EXPECT_EQ(tok().bos_id(), 1);
  EXPECT_EQ(tok().eos_id(), 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.pad_id, 2);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(tok().token_text(1), "<|im_start|>");
  EXPECT_EQ(tok().find_token("<|im_end|>"), 2);
  EXPECT_EQ(tok().find_token("Ġthe"), tok().encode(" the", false)[0]);
  EXPECT_EQ(tok().find_token("no such token"), -1);
  for (int32_t id = 0; id <= 16; ++id) EXPECT_TRUE(tok().is_special(id)) << id;
  EXPECT_FALSE(tok().is_special(17));
  EXPECT_FALSE(tok().is_special(-1));
  EXPECT_EQ(tok().token_bytes(tok().find_token("Ġthe")), " the");
  EXPECT_EQ(tok().token_bytes(99999), "");
  EXPECT_EQ(tok().token_text(-5), "");
}

TEST_F(TokenizerTest, EncodeMatchesHfGoldens) {
  size_t matched = 0;
  for (const GoldenCase& c : cases()) {
    const std::vector<int32_t> ids = tok().encode(c.text, /*add_special_tokens=*/false);
    EXPECT_EQ(ids, c.ids) << "text: '" << c.text << "'";
    matched += ids == c.ids;
  }
  std::printf("golden encode: %zu/%zu cases match\n", matched, cases().size());
}

TEST_F(TokenizerTest, DecodeMatchesHfGoldens) {
  for (const GoldenCase& c : cases()) {
    EXPECT_EQ(tok().decode(c.ids, false), c.decoded) << "text: '" << c.text << "'";
    EXPECT_EQ(tok().decode(c.ids, true), c.decoded_skip_special) << "text: '" << c.text << "'";
  }
}

TEST_F(TokenizerTest, RoundTrip) {
  size_t exact = 0;
  for (const GoldenCase& c : cases()) {
    // Equal to the text unless it holds bytes the vocabulary cannot spell (then HF's decode is lossy too).
    EXPECT_EQ(tok().decode(tok().encode(c.text, false), false), c.decoded);
    EXPECT_EQ(tok().decode(tok().encode(c.text, false, /*parse_special=*/false), false), c.decoded);
    exact += c.decoded == c.text;
  }
  EXPECT_GE(exact + 2, cases().size());
}

TEST_F(TokenizerTest, SpecialTokens) {
  const std::string chat = "<|im_start|>user\nHi<|im_end|>\n";
  const std::vector<int32_t> parsed = tok().encode(chat, false);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 1);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), 2), 1);
  // Without parse_special the markup is plain text: no special ids at all.
  for (int32_t id : tok().encode(chat, false, /*parse_special=*/false)) EXPECT_FALSE(tok().is_special(id)) << id;
  EXPECT_EQ(tok().decode(parsed, true), "user\nHi\n");
  EXPECT_EQ(tok().decode(parsed, false), chat);
  // add_bos_token is false for SmolLM2, so add_special_tokens adds nothing.
  EXPECT_EQ(tok().encode("Hi", true), tok().encode("Hi", false));
  // Out-of-range ids are skipped by decode.
  const std::vector<int32_t> with_bad = {-1, parsed[1], 1 << 30};
  EXPECT_EQ(tok().decode(with_bad, false), tok().decode(std::vector<int32_t>{parsed[1]}, false));
}

TEST_F(TokenizerTest, AddSpecialTokensFollowsVocab) {
  VocabData v = *shared().vocab;
  v.add_bos = true;
  v.add_eos = true;
  Result<Tokenizer> t = Tokenizer::create(std::move(v));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  const std::vector<int32_t> ids = t->encode("Hi", true);
  ASSERT_EQ(ids.size(), tok().encode("Hi", false).size() + 2);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
}

TEST_F(TokenizerTest, InvalidUtf8KeepsEveryByteTheVocabularyCanSpell) {
  // SmolLM2 lacks the byte-level characters of e.g. 0xC0, 0xFF and 0x04; like HF, those bytes are dropped.
  std::string spellable;
  for (int b = 0; b < 256; ++b) {
    if (!tok().encode(std::string(1, static_cast<char>(b)), false).empty()) spellable.push_back(static_cast<char>(b));
  }
  EXPECT_EQ(spellable.size(), 256u - 21u);
  const std::string inputs[] = {"\xff\xfe", "ab\xe2\x82", "\xc0\xaf x \xed\xa0\x80 y", "\xf0\x9f\x98\x80\x80",
                                std::string("nul\0byte", 8), "\x80<|im_end|>\xbf", "\xf1\x80\x80\x80z"};
  for (const std::string& in : inputs) {
    std::string want;
    for (char b : in) {
      if (spellable.find(b) != std::string::npos) want.push_back(b);
    }
    const std::vector<int32_t> ids = tok().encode(in, false, /*parse_special=*/false);
    std::string bytes;
    for (int32_t id : ids) bytes += tok().token_bytes(id);
    EXPECT_EQ(bytes, want);
    EXPECT_TRUE(is_valid_utf8(tok().decode(ids, false)));
  }
}

TEST_F(TokenizerTest, LossyDecodeLikeRust) {
  // Expected strings from Python's bytes.decode("utf-8", "replace"), the same maximal-subpart policy.
  const std::string fffd = "\xEF\xBF\xBD";
  const std::pair<std::string, std::string> cases[] = {
      {"\xe2\x82" "A", fffd + "A"},        {"\xf0\x80\x80", fffd + fffd + fffd},
      {"\xed\xa0\x80", fffd + fffd + fffd}, {"\xe0\x80\xaf", fffd + fffd + fffd},
      {"a\xf4\x90\x80\x80" "b", "a" + fffd + fffd + fffd + fffd + "b"},
      {"\xe2\x82", fffd},                   {"\xf0\x9f\x98", fffd}};
  for (const auto& [in, want] : cases) {
    std::vector<int32_t> ids = tok().encode(in, false);
    EXPECT_EQ(tok().decode(ids, false), want);
    IncrementalDetokenizer detok(tok(), false);
    std::string got;
    for (int32_t id : ids) got += detok.push(id);
    got += detok.flush();
    EXPECT_EQ(got, want);
  }
}

TEST_F(TokenizerTest, IncrementalDetokenizerMatchesFullDecode) {
  for (bool skip : {false, true}) {
    for (const GoldenCase& c : cases()) {
      IncrementalDetokenizer detok(tok(), skip);
      std::string text;
      for (int32_t id : c.ids) {
        const std::string chunk = detok.push(id);
        EXPECT_TRUE(is_valid_utf8(chunk)) << "text: '" << c.text << "'";
        text += chunk;
      }
      const std::string rest = detok.flush();
      EXPECT_TRUE(is_valid_utf8(rest));
      EXPECT_EQ(rest, "") << "a complete text leaves nothing behind";
      EXPECT_EQ(text, skip ? c.decoded_skip_special : c.decoded) << "text: '" << c.text << "'";
    }
  }
}

TEST_F(TokenizerTest, IncrementalDetokenizerHoldsBackPartialCharacters) {
  // A 4-byte emoji spelled byte by byte: nothing comes out until the last byte.
  const std::string emoji = "\xf0\x9f\x98\x80";
  IncrementalDetokenizer detok(tok(), false);
  for (size_t i = 0; i < emoji.size(); ++i) {
    const std::vector<int32_t> ids = tok().encode(emoji.substr(i, 1), false);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(detok.push(ids[0]), i + 1 < emoji.size() ? "" : emoji);
  }
  EXPECT_EQ(detok.flush(), "");
  // Cut off: the held-back bytes come out of flush() as one U+FFFD.
  for (char b : emoji.substr(0, 2)) EXPECT_EQ(detok.push(tok().encode(std::string(1, b), false)[0]), "");
  EXPECT_EQ(detok.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(detok.flush(), "");
}

TEST_F(TokenizerTest, ConcurrentEncodeIsConsistent) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (const GoldenCase& c : cases()) failures[t] += tok().encode(c.text, false) != c.ids;
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST_F(TokenizerTest, EncodeSpeed) {
  std::string prompt;
  for (const GoldenCase& c : cases()) {
    if (prompt.size() >= 2048) break;
    prompt += c.text + "\n";
  }
  prompt.resize(2048);  // may cut a character: still fine to encode
  constexpr int kIters = 50;
  const auto start = std::chrono::steady_clock::now();
  size_t n = 0;
  for (int i = 0; i < kIters; ++i) n += tok().encode(prompt, false).size();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("encode 2 KiB prompt (%zu tokens): %.1f us\n", n / kIters, us / kIters);
  EXPECT_LT(us / kIters, 50000.0);  // generous: Debug and sanitizer builds run this too
}

VocabData tiny_vocab() {
  VocabData v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"<s>", "a", "b", "ab", "Ġ", "Ġab"};
  v.token_types = {TokenType::kControl, TokenType::kNormal, TokenType::kNormal,
                   TokenType::kNormal,  TokenType::kNormal, TokenType::kNormal};
  v.merges = {"a b", "Ġ ab"};
  v.bos_id = 0;
  return v;
}

TEST(TokenizerVocabTest, TinyVocabularyMergesByRank) {
  Result<Tokenizer> t = Tokenizer::create(tiny_vocab());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->encode("ab ab<s>", false), (std::vector<int32_t>{3, 5, 0}));
  EXPECT_EQ(t->encode("ba", false), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(t->encode("abc", false), (std::vector<int32_t>{3}));  // 'c' is unknown and there is no unk
}

TEST(TokenizerVocabTest, BadVocabularyIsInvalidArgument) {
  const auto expect_bad = [](VocabData v, const std::string& needle) {
    Result<Tokenizer> t = Tokenizer::create(std::move(v));
    ASSERT_FALSE(t.ok()) << needle;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().message();
  };
  VocabData v = tiny_vocab();
  v.model = "bert";
  expect_bad(v, "unsupported tokenizer model 'bert'");
  v = tiny_vocab();
  v.tokens.clear();
  v.token_types.clear();
  expect_bad(v, "no tokens");
  v = tiny_vocab();
  v.token_types.pop_back();
  expect_bad(v, "token_types");
  v = tiny_vocab();
  v.eos_id = 6;
  expect_bad(v, "eos");
  v = tiny_vocab();
  v.bos_id = -7;
  expect_bad(v, "bos");
  v = tiny_vocab();
  v.merges.push_back("a c");
  expect_bad(v, "not in the vocabulary");
  v = tiny_vocab();
  v.merges.push_back("ab");
  expect_bad(v, "form");
  v = tiny_vocab();
  v.pre = "no-such-pre";
  expect_bad(v, "no-such-pre");
}

}  // namespace
}  // namespace podserve
