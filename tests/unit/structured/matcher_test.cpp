// Token masks: the adaptive cache (accepted / rejected / uncertain per state, uncertain tokens run through the
// full parser) must give exactly the tokens the matcher accepts one by one, at every step of a walk, on a
// synthetic vocabulary and on real ones (Llama 3.1 byte-level BPE, Llama 2 SentencePiece with byte fallback).
// The masks themselves are compared with xgrammar's in xgrammar_masks_test.cpp.
#include <gtest/gtest.h>

#include <map>

#include "structured/grammar_compiler.h"
#include "structured/matcher.h"
#include "test_util.h"
#include "tokenizer/hf_tokenizer.h"

namespace podserve::structured {
namespace {

bool bit(const std::vector<uint32_t>& mask, int32_t id) { return (mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1u; }

/// Checks the mask against accept_token at the matcher's current state; returns the allowed count.
int check_mask(GrammarMatcher& m, const TokenVocabulary& v) {
  std::vector<uint32_t> mask(v.mask_words() + 1, 0xDEADBEEF);
  m.fill_next_token_bitmask(mask);
  int allowed = 0;
  for (int32_t id = 0; id < v.vocab_size(); ++id) {
    const bool ok = m.accept_token(id);
    if (ok) m.rollback(1);
    EXPECT_EQ(bit(mask, id), ok) << "token " << id << " '" << (static_cast<size_t>(id) < v.num_tokens() ? v.bytes(id) : "")
                                 << "' after " << m.num_accepted_tokens() << " tokens";
    if (bit(mask, id) != ok) return -1;
    allowed += ok ? 1 : 0;
  }
  return allowed;
}

/// Walks `text` greedily with the longest allowed token at each step, checking every mask.
void walk(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text, bool expect_end) {
  const TokenVocabulary& v = g->vocab();
  GrammarMatcher m(g);
  size_t pos = 0;
  while (pos < text.size()) {
    ASSERT_GE(check_mask(m, v), 0);
    int32_t best = -1;
    for (int32_t id = 0; id < static_cast<int32_t>(v.num_tokens()); ++id) {
      const std::string& b = v.bytes(id);
      if (b.empty() || v.is_stop(id) || text.compare(pos, b.size(), b) != 0) continue;
      if (best < 0 || b.size() > v.bytes(best).size()) best = id;
    }
    ASSERT_GE(best, 0) << "no token spells the text at " << pos;
    ASSERT_TRUE(m.accept_token(best)) << "'" << v.bytes(best) << "' at " << pos << " of " << text;
    pos += v.bytes(best).size();
  }
  ASSERT_GE(check_mask(m, v), 0);
  EXPECT_EQ(m.can_end(), expect_end);
  if (expect_end) {
    ASSERT_TRUE(m.accept_token(v.stop_tokens()[0]));
    EXPECT_TRUE(m.is_terminated());
    std::vector<uint32_t> mask(v.mask_words(), 1);
    m.fill_next_token_bitmask(mask);
    for (uint32_t w : mask) EXPECT_EQ(w, 0u);
    m.rollback(1);
    EXPECT_FALSE(m.is_terminated());
  }
}

std::shared_ptr<const TokenVocabulary> synthetic_vocab() {
  // Every string of 1..3 characters over a small alphabet, a few special-looking tokens, an empty one, and
  // padding past the tokenizer (mask width 64 * 64 + 100).
  const std::string alphabet = "ab\"{}:, \\x1";
  std::vector<std::string> tokens{"", "<s>"};
  for (char a : alphabet) {
    tokens.push_back(std::string(1, a));
    for (char b : alphabet) {
      tokens.push_back(std::string{a, b});
      for (char c : std::string("ab\",}")) tokens.push_back(std::string{a, b, c});
    }
  }
  tokens.push_back("\xc3\xa9");
  tokens.push_back("\xc3");
  tokens.push_back("\xa9");
  const auto n = static_cast<int32_t>(tokens.size());
  return std::make_shared<const TokenVocabulary>(std::move(tokens), n + 100, std::vector<int32_t>{1});
}

std::shared_ptr<const CompiledGrammar> compile(const std::string& ebnf, std::shared_ptr<const TokenVocabulary> v) {
  StructuredConstraint c;
  c.kind = StructuredConstraint::Kind::kGrammar;
  c.spec = ebnf;
  GrammarCompiler compiler(std::move(v));
  Result<std::shared_ptr<const CompiledGrammar>> g = compiler.compile(c);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return g.ok() ? *g : nullptr;
}

const char* kJsonLike =
    "root ::= \"{\" ws members? ws \"}\"\n"
    "members ::= pair (ws \",\" ws pair)*\n"
    "pair ::= str ws \":\" ws value\n"
    "value ::= str | \"1\" | \"x\" | root\n"
    "str ::= \"\\\"\" chars (= ws [,:}])\n"
    "chars ::= \"\\\"\" | [^\"\\\\] chars | \"\\\\\" [\"\\\\] chars\n"
    "ws ::= [ ]*\n";

TEST(MatcherTest, SyntheticVocabMasksMatchAcceptToken) {
  auto v = synthetic_vocab();
  auto g = compile(kJsonLike, v);
  ASSERT_NE(g, nullptr);
  walk(g, "{\"ab\": {\"a\\\"b\" :1 ,  \"x\":\"\xc3\xa9\"}}", true);
  walk(g, "{\"a", false);
  auto choice = compile("root ::= \"ab\" | \"abab\" | \"b\\\"\"", v);
  walk(choice, "abab", true);
  walk(choice, "ab", true);
}

TEST(MatcherTest, ForkAndRollback) {
  auto v = synthetic_vocab();
  auto g = compile(kJsonLike, v);
  GrammarMatcher m(g);
  ASSERT_TRUE(m.accept_string("{\"a"));
  GrammarMatcher fork(m);
  ASSERT_TRUE(fork.accept_string("\":1}"));
  EXPECT_TRUE(fork.can_end());
  EXPECT_FALSE(m.can_end());
  ASSERT_TRUE(m.accept_string("b\":x}"));
  EXPECT_TRUE(m.can_end());
  m.rollback(1);  // back to `{"a`
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept_string("\":}"));
  ASSERT_TRUE(m.accept_string("\":{}}"));
  EXPECT_TRUE(m.can_end());
}

struct RealVocab {
  std::unique_ptr<HfTokenizer> tokenizer;
  std::shared_ptr<const TokenVocabulary> vocab;
};

const RealVocab& real_vocab(const std::string& name) {
  static std::map<std::string, RealVocab> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Result<HfTokenizer> hf = load_hf_tokenizer(testing::fixtures_dir() + "/tokenizers/" + name);
    EXPECT_TRUE(hf.ok()) << hf.status().to_string();
    RealVocab rv;
    rv.tokenizer = std::make_unique<HfTokenizer>(std::move(hf).value());
    rv.vocab = TokenVocabulary::from_tokenizer(rv.tokenizer->tokenizer, rv.tokenizer->tokenizer.vocab_size());
    it = cache.emplace(name, std::move(rv)).first;
  }
  return it->second;
}

TEST(MatcherTest, RealVocabMasksMatchAcceptToken) {
  for (const char* name : {"llama3_1", "llama2"}) {
    SCOPED_TRACE(name);
    auto g = compile(kJsonLike, real_vocab(name).vocab);
    ASSERT_NE(g, nullptr);
    walk(g, "{\"name\": \"caf\xc3\xa9 \\\"x\\\"\", \"b\":{\"q\":1}}", true);
  }
}

}  // namespace
}  // namespace podserve::structured
