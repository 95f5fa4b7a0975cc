// Every fixture tokenizer.json (Llama-2, Llama-3.1, Qwen3, Gemma 3) and SmolLM2's GGUF vocabulary against
// HF `tokenizers` goldens (tools/goldens/hf_tokenizers.py): ids with and without special tokens and with
// special-token parsing off, decode with and without skip_special_tokens, and the incremental detokenizer
// (valid UTF-8 chunks whose concatenation is HF's decode). Also a GGUF-style SentencePiece vocabulary rebuilt
// from Llama-2's, config files, and malformed tokenizer.json.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "test_util.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace podserve {
namespace {

namespace json = boost::json;

std::vector<int32_t> ids_of(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& id : v.as_array()) out.push_back(static_cast<int32_t>(id.as_int64()));
  return out;
}

const json::value& goldens() {
  static const json::value* root = [] {
    const std::string text = testing::read_file(testing::test_data_dir() + "/tokenizers_hf.json");
    boost::system::error_code ec;
    return new json::value(json::parse(text, ec));
  }();
  return *root;
}

const json::object* golden_for(const std::string& name) {
  if (!goldens().is_object()) return nullptr;
  for (const auto& t : goldens().at("tokenizers").as_array()) {
    if (t.at("name").as_string() == name) return &t.as_object();
  }
  return nullptr;
}

// Independent of the implementation's own UTF-8 code.
bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
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

std::string stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip, bool* valid) {
  IncrementalDetokenizer detok(tok, skip);
  std::string text;
  for (int32_t id : ids) {
    const std::string chunk = detok.push(id);
    *valid = *valid && is_valid_utf8(chunk);
    text += chunk;
  }
  const std::string rest = detok.flush();
  *valid = *valid && is_valid_utf8(rest);
  return text + rest;
}

// Checks `tok` against the goldens of tokenizer `name`; returns the number of texts checked.
size_t check_against_goldens(const Tokenizer& tok, const std::string& name) {
  const json::object* g = golden_for(name);
  EXPECT_NE(g, nullptr) << "no goldens for " << name;
  if (g == nullptr) return 0;
  const json::array& texts = goldens().at("texts").as_array();
  const json::array& cases = g->at("cases").as_array();
  EXPECT_EQ(texts.size(), cases.size());
  const std::vector<int32_t> prefix = ids_of(g->at("prefix_ids")), suffix = ids_of(g->at("suffix_ids"));
  size_t failures = 0;
  for (size_t i = 0; i < cases.size() && i < texts.size() && failures < 10; ++i) {
    const std::string text(texts[i].as_string());
    const json::object& c = cases[i].as_object();
    const std::vector<int32_t> ids = ids_of(c.at("ids"));
    EXPECT_EQ(tok.encode(text, false), ids) << name << " text #" << i << ": '" << text << "'";
    std::vector<int32_t> with_special = prefix;
    with_special.insert(with_special.end(), ids.begin(), ids.end());
    with_special.insert(with_special.end(), suffix.begin(), suffix.end());
    EXPECT_EQ(tok.encode(text, true), with_special) << name << " text #" << i;
    const std::vector<int32_t> no_special = c.contains("ids_no_special") ? ids_of(c.at("ids_no_special")) : ids;
    EXPECT_EQ(tok.encode(text, false, /*parse_special=*/false), no_special) << name << " text #" << i;
    const std::string decoded = c.contains("decoded") ? std::string(c.at("decoded").as_string()) : text;
    const std::string skipped =
        c.contains("decoded_skip_special") ? std::string(c.at("decoded_skip_special").as_string()) : decoded;
    EXPECT_EQ(tok.decode(ids, false), decoded) << name << " text #" << i;
    EXPECT_EQ(tok.decode(ids, true), skipped) << name << " text #" << i;
    bool valid = true;
    EXPECT_EQ(stream(tok, ids, false, &valid), decoded) << name << " text #" << i;
    EXPECT_EQ(stream(tok, ids, true, &valid), skipped) << name << " text #" << i;
    EXPECT_TRUE(valid) << name << " text #" << i;
    if (::testing::Test::HasFailure()) ++failures;  // keep the log short: stop 10 texts after a failure
  }
  return cases.size();
}

class FixtureTokenizerTest : public ::testing::TestWithParam<std::string> {};

// Loaded once per fixture: Gemma 3's 33 MB tokenizer.json takes a while.
const Tokenizer* fixture_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<HfTokenizer>> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    Result<HfTokenizer> hf = load_hf_tokenizer(testing::fixtures_dir() + "/tokenizers/" + name);
    EXPECT_TRUE(hf.ok()) << hf.status().to_string();
    it = loaded.emplace(name, hf.ok() ? std::make_unique<HfTokenizer>(std::move(hf).value()) : nullptr).first;
  }
  return it->second ? &it->second->tokenizer : nullptr;
}

TEST_P(FixtureTokenizerTest, MatchesHfTokenizers) {
  const Tokenizer* tok = fixture_tokenizer(GetParam());
  ASSERT_NE(tok, nullptr);
  EXPECT_GT(check_against_goldens(*tok, GetParam()), 250u);
}

// Input HF cannot take (invalid UTF-8, any bytes) and arbitrary ids: no crash, always valid UTF-8 out.
TEST_P(FixtureTokenizerTest, ArbitraryBytesAndIdsAreSafe) {
  const Tokenizer* tok = fixture_tokenizer(GetParam());
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(round % 2 ? rng() % 256 : 0x80 + rng() % 64);
    const std::vector<int32_t> ids = tok->encode(bytes, true);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->vocab_size());
    bool valid = is_valid_utf8(tok->decode(ids, false));
    stream(*tok, ids, false, &valid);
    std::vector<int32_t> random_ids(rng() % 32);
    for (int32_t& id : random_ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(tok->vocab_size() + 8)) - 4;
    valid = valid && is_valid_utf8(tok->decode(random_ids, round % 3 == 0));
    stream(*tok, random_ids, round % 3 == 0, &valid);
    EXPECT_TRUE(valid) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTokenizerTest, ::testing::Values("llama2", "llama3_1", "qwen3", "gemma3"));

// Components no fixture uses (Metaspace, NFKC/NFD/Lowercase/Strip/regex Replace, every Split behaviour,
// Digits, ByteLevel add_prefix_space, added tokens with lstrip/rstrip/single_word/normalized): a fixture
// file patched as the golden says, against HF on the same patched file.
class VariantTokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VariantTokenizerTest, MatchesHfTokenizers) {
  const json::object* g = golden_for(GetParam());
  ASSERT_NE(g, nullptr);
  const json::object& variant = g->at("path").as_object();
  const std::string base(variant.at("base").as_string());
  const std::string text = testing::read_file(testing::fixtures_dir() + "/tokenizers/" + base + "/tokenizer.json");
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  ASSERT_FALSE(ec);
  for (const auto& [key, value] : variant.at("patch").as_object()) doc.as_object()[key] = value;
  for (const auto& added : variant.at("added_tokens").as_array()) doc.at("added_tokens").as_array().push_back(added);
  Result<TokenizerSpec> spec = parse_tokenizer_json(json::serialize(doc));
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  Result<Tokenizer> tok = Tokenizer::create(std::move(spec).value());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_GT(check_against_goldens(*tok, GetParam()), 250u);
}

INSTANTIATE_TEST_SUITE_P(Variants, VariantTokenizerTest,
                         ::testing::Values("llama2_metaspace_first", "llama2_metaspace_split", "llama3_splits",
                                           "qwen3_added_tokens"));

TEST(GgufTokenizerTest, SmolLM2MatchesHfTokenizers) {
  Result<GgufFile> file = GgufFile::open(testing::model_path());
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  Result<VocabData> vocab = vocab_from_gguf(*file);
  ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
  Result<Tokenizer> tok = Tokenizer::create(*vocab);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_GT(check_against_goldens(*tok, "smollm2"), 250u);
}

// A GGUF `llama` (SentencePiece) vocabulary: Llama-2's tokens with scores that order them as its
// tokenizer.json's merges do (HF derived those merges from the SentencePiece scores; the inverse is taken
// here, since the fixture has no tokenizer.model) must give the same ids as the tokenizer.json.
TEST(GgufTokenizerTest, SentencePieceVocabularyMatchesLlama2) {
  const std::string text = testing::read_file(testing::fixtures_dir() + "/tokenizers/llama2/tokenizer.json");
  Result<TokenizerSpec> spec = parse_tokenizer_json(text);
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  VocabData v;
  v.model = "llama";
  v.tokens = spec->vocab;
  v.token_types.assign(v.tokens.size(), TokenType::kNormal);
  v.token_types[0] = TokenType::kUnknown;
  v.token_types[1] = v.token_types[2] = TokenType::kControl;
  for (int b = 0; b < 256; ++b) v.token_types[3 + b] = TokenType::kByte;
  v.scores.assign(v.tokens.size(), -1e9f);  // characters: never the result of a merge
  std::map<std::string, int32_t> id_of;
  for (size_t i = 0; i < v.tokens.size(); ++i) id_of[v.tokens[i]] = static_cast<int32_t>(i);
  for (size_t rank = spec->merges.size(); rank-- > 0;) {
    const auto& [a, b] = spec->merges[rank];
    v.scores[id_of.at(a + b)] = -static_cast<float>(rank);
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_bos = true;
  Result<Tokenizer> tok = Tokenizer::create(v);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_GT(check_against_goldens(*tok, "llama2"), 250u);
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("podserve_tok_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

constexpr const char* kTinyJson = R"({"version":"1.0","added_tokens":[
  {"id":0,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
  "normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
  "post_processor":null,"decoder":{"type":"ByteLevel"},
  "model":{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["a b"]}})";

TEST(HfTokenizerConfigTest, ReadsConfigAndGenerationConfig) {
  TempDir dir;
  dir.write("tokenizer.json", kTinyJson);
  dir.write("tokenizer_config.json", R"({"bos_token":{"content":"<s>"},"eos_token":"<s>","add_bos_token":true,
    "chat_template":[{"name":"default","template":"D"},{"name":"tool_use","template":"T"}]})");
  dir.write("generation_config.json", R"({"eos_token_id":[3,2],"bos_token_id":0,"temperature":0.6,"top_p":0.9,
    "top_k":20,"do_sample":true})");
  Result<HfTokenizer> hf = load_hf_tokenizer(dir.path());
  ASSERT_TRUE(hf.ok()) << hf.status().to_string();
  EXPECT_EQ(hf->config.default_chat_template(), "D");
  ASSERT_NE(hf->config.chat_template("tool_use"), nullptr);
  EXPECT_EQ(hf->config.chat_template("tool_use")->source, "T");
  EXPECT_EQ(hf->config.eos_token_ids, (std::vector<int32_t>{3, 2, 0}));
  EXPECT_EQ(hf->config.bos_token, "<s>");
  EXPECT_EQ(hf->config.generation.temperature, 0.6);
  EXPECT_EQ(hf->config.generation.top_k, 20);
  EXPECT_EQ(hf->config.generation.do_sample, true);
  EXPECT_FALSE(hf->config.generation.repetition_penalty.has_value());
  EXPECT_EQ(hf->tokenizer.encode("ab<s>", false), (std::vector<int32_t>{3, 0}));
  // chat_template.jinja wins over the inline default.
  dir.write("chat_template.jinja", "J");
  hf = load_hf_tokenizer(dir.path() + "/tokenizer.json");
  ASSERT_TRUE(hf.ok()) << hf.status().to_string();
  EXPECT_EQ(hf->config.default_chat_template(), "J");
}

TEST(HfTokenizerConfigTest, Gemma3AndLlama31Configs) {
  Result<HfTokenizer> gemma = load_hf_tokenizer(testing::fixtures_dir() + "/tokenizers/gemma3");
  ASSERT_TRUE(gemma.ok()) << gemma.status().to_string();
  EXPECT_EQ(gemma->config.bos_token, "<bos>");
  EXPECT_EQ(gemma->config.eos_token, "<end_of_turn>");
  EXPECT_EQ(gemma->tokenizer.bos_id(), 2);
  EXPECT_NE(gemma->config.default_chat_template().find("start_of_turn"), std::string::npos);
  Result<HfTokenizer> llama = load_hf_tokenizer(testing::fixtures_dir() + "/tokenizers/llama3_1");
  ASSERT_TRUE(llama.ok()) << llama.status().to_string();
  EXPECT_EQ(llama->tokenizer.eos_id(), 128009);  // <|eot_id|>
  EXPECT_EQ(llama->config.eos_token_ids, (std::vector<int32_t>{128009}));
}

TEST(TokenizerJsonTest, MalformedFilesAreClearErrors) {
  const auto expect_bad = [](const std::string& text, const std::string& needle) {
    Result<TokenizerSpec> spec = parse_tokenizer_json(text);
    Result<Tokenizer> tok = spec.ok() ? Tokenizer::create(std::move(spec).value()) : Result<Tokenizer>(spec.status());
    ASSERT_FALSE(tok.ok()) << needle;
    EXPECT_EQ(tok.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(tok.status().message().find(needle), std::string::npos) << tok.status().message();
  };
  std::string tiny = kTinyJson;
  const auto with = [&tiny](const std::string& from, const std::string& to) {
    std::string s = tiny;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  expect_bad("", "not valid JSON");
  expect_bad("[1,2]", "top level");
  expect_bad(tiny.substr(0, tiny.size() / 2), "not valid JSON");
  expect_bad(with(R"("type":"BPE")", R"("type":"Unigram")"), "unsupported model type 'Unigram'");
  expect_bad(with(R"("normalizer":null)", R"("normalizer":{"type":"Precompiled"})"),
             "unsupported normalizer type 'Precompiled'");
  expect_bad(with(R"("pre_tokenizer":{"type":"ByteLevel")", R"("pre_tokenizer":{"type":"BertPreTokenizer")"),
             "unsupported pre_tokenizer type 'BertPreTokenizer'");
  expect_bad(with(R"("decoder":{"type":"ByteLevel"})", R"("decoder":{"type":"CTC"})"), "unsupported decoder type 'CTC'");
  expect_bad(with(R"("merges":["a b"])", R"("merges":["a c"])"), "not in the vocabulary");
  expect_bad(with(R"("merges":["a b"])", R"("merges":["ab"])"), "not of the form");
  expect_bad(with(R"("merges":["a b"])", R"("merges":[7])"), "merge");
  expect_bad(with(R"("ab":3)", R"("ab":99)"), "model.vocab id");
  expect_bad(with(R"("ab":3)", R"("ab":-1)"), "model.vocab id");
  expect_bad(with(R"({"id":0,)", R"({"id":"x",)"), "valid 'id'");
  expect_bad(with(R"("post_processor":null)", R"("post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<x>"}}]})"),
             "'<x>' has no ids");
  expect_bad(with(R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true})",
                  R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"(["},"behavior":"Isolated"})"),
             "regex");
  expect_bad(with(R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true})",
                  R"("pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"Sideways"})"),
             "split behavior 'Sideways'");
}

// model.vocab / model.merges are streamed past the DOM (tokenizer_json_sax.cpp): they must be exactly what a
// plain Boost.JSON parse of the file holds, for legacy "a b" merges (Llama-3.1) and pair merges (Qwen3, Gemma 3).
TEST(TokenizerJsonTest, StreamedTablesMatchTheDocument) {
  for (const char* name : {"llama3_1", "qwen3", "gemma3"}) {
    const std::string text = testing::read_file(testing::fixtures_dir() + "/tokenizers/" + name + "/tokenizer.json");
    Result<TokenizerSpec> spec = parse_tokenizer_json(text);
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status().to_string();
    const json::value doc = json::parse(text);
    const json::object& model = doc.at("model").as_object();
    ASSERT_EQ(spec->vocab.size(), model.at("vocab").as_object().size()) << name;
    for (const auto& [token, id] : model.at("vocab").as_object()) {
      ASSERT_EQ(spec->vocab[static_cast<size_t>(id.as_int64())], std::string(token)) << name;
    }
    const json::array& merges = model.at("merges").as_array();
    ASSERT_EQ(spec->merges.size(), merges.size()) << name;
    for (size_t i = 0; i < merges.size(); ++i) {
      std::string left, right;
      if (merges[i].is_string()) {
        const std::string m(merges[i].as_string());
        left = m.substr(0, m.find(' '));
        right = m.substr(m.find(' ') + 1);
      } else {
        left = std::string(merges[i].as_array()[0].as_string());
        right = std::string(merges[i].as_array()[1].as_string());
      }
      ASSERT_EQ(spec->merges[i], std::make_pair(left, right)) << name << " merge " << i;
    }
  }
}

TEST(TokenizerJsonTest, StreamedTablesEdgeCases) {
  std::string tiny = kTinyJson;
  const auto with = [&tiny](const std::string& from, const std::string& to) {
    std::string s = tiny;
    return s.replace(s.find(from), from.size(), to);
  };
  // A long escaped token (delivered by the parser in parts) and "vocab"/"merges" keys outside the model.
  std::string long_token, long_escaped;
  for (int i = 0; i < 3000; ++i) {
    long_token += "\xC3\xA9\"";
    long_escaped += "\\u00e9\\\"";
  }
  std::string text = with(R"("normalizer":null)", R"("normalizer":null,"extra":{"vocab":{"zz":9},"merges":["q r"]})");
  text.replace(text.find(R"("ab":3})"), 7, R"("ab":3,")" + long_escaped + R"(":4})");
  Result<TokenizerSpec> spec = parse_tokenizer_json(text);
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  ASSERT_EQ(spec->vocab.size(), 5u);
  EXPECT_EQ(spec->vocab[4], long_token);
  EXPECT_EQ(spec->merges, (std::vector<std::pair<std::string, std::string>>{{"a", "b"}}));
  // Pair merges and legacy merges give the same tokenizer.
  Result<TokenizerSpec> pairs = parse_tokenizer_json(with(R"("merges":["a b"])", R"("merges":[["a","b"]])"));
  ASSERT_TRUE(pairs.ok()) << pairs.status().to_string();
  EXPECT_EQ(pairs->merges, (std::vector<std::pair<std::string, std::string>>{{"a", "b"}}));
  // Wrong shapes inside the tables are clear errors.
  for (const auto& [from, to, needle] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {R"("ab":3)", R"("ab":"3")", "model.vocab id of 'ab'"},
           {R"("ab":3)", R"("ab":3.5)", "model.vocab id of 'ab'"},
           {R"("ab":3)", R"("ab":[3])", "model.vocab"},
           {R"("ab":3)", R"("ab":18446744073709551615)", "model.vocab id of 'ab'"},
           {R"("merges":["a b"])", R"("merges":[["a","b","c"]])", "a merge must be"},
           {R"("merges":["a b"])", R"("merges":[["a",["b"]]])", "a merge must be"},
           {R"("merges":["a b"])", R"("merges":[{"a":"b"}])", "a merge must be"},
           {R"("merges":["a b"])", R"("merges":{"a":"b"})", "model.merges must be a list"},
           {R"("vocab":{"<s>":0,"a":1,"b":2,"ab":3})", R"("vocab":[1])", "model.vocab must be an object"},
           {R"("merges":["a b"]})", R"("merges":["a b"]}} x)", "not valid JSON"}}) {
    Result<TokenizerSpec> bad = parse_tokenizer_json(with(from, to));
    ASSERT_FALSE(bad.ok()) << to;
    EXPECT_NE(bad.status().message().find(needle), std::string::npos) << bad.status().message();
  }
}

// Every truncation and many single-byte corruptions of a valid file: an error or a working tokenizer,
// never a crash (this also runs under ASan/UBSan).
TEST(TokenizerJsonTest, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string good = kTinyJson;
  std::mt19937 rng(11);
  for (size_t cut = 0; cut < good.size(); ++cut) EXPECT_FALSE(parse_tokenizer_json(good.substr(0, cut)).ok());
  for (int round = 0; round < 2000; ++round) {
    std::string bad = good;
    bad[rng() % bad.size()] = "\"{}[]:,0123456789-ab \\"[rng() % 20];
    Result<TokenizerSpec> spec = parse_tokenizer_json(bad);
    if (!spec.ok()) continue;
    Result<Tokenizer> tok = Tokenizer::create(std::move(spec).value());
    if (tok.ok()) {
      EXPECT_TRUE(is_valid_utf8(tok->decode(tok->encode("ab ba<s>", true), false)));
    }
  }
}

TEST(TokenizerJsonTest, MissingFilesAreNotFound) {
  Result<HfTokenizer> hf = load_hf_tokenizer("/nonexistent/dir");
  ASSERT_FALSE(hf.ok());
  EXPECT_NE(hf.status().message().find("tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace podserve
