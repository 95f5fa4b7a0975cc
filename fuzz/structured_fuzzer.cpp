// Structured-output constraints as a request gives them: the first input byte picks the kind — JSON Schema,
// regex, EBNF grammar, choice (a JSON list of strings), json_object — and whether JSON may hold any whitespace;
// the rest is the spec and, after kPartSeparator, a text to match. The constraint is lowered to the grammar IR
// (grammar_for: the JSON Schema and regex converters, the EBNF parser), compiled against a vocabulary (the 299
// tokens of tests/data/tiny-llama.gguf; with bit 0x80, SmolLM2's 49152) and run by a GrammarMatcher over the text.
// Checked: the printed grammar parses back to the same rules (Grammar::to_ebnf's promise; the parser may number
// them in another order, so rules are compared as a set of lines); the token mask agrees
// with the parser — a token is in the mask exactly when accept_token takes it (every token of the small vocabulary,
// a sample of the large one), before and after the text; a rejected token or string leaves the state as it was.
#include <algorithm>

#include <boost/json/parse.hpp>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "structured/compiled_grammar.h"
#include "structured/constraint.h"
#include "structured/ebnf_parser.h"
#include "structured/matcher.h"
#include "structured/token_vocab.h"
#include "support/fuzz_common.h"

namespace {

using podserve::fuzz::fail;
namespace st = podserve::structured;

std::shared_ptr<const st::TokenVocabulary> vocab_of(const std::string& gguf) {
  auto file = podserve::GgufFile::open(gguf);
  if (!file.ok()) fail("set-up: " + gguf, file.status().to_string());
  auto vocab = podserve::vocab_from_gguf(*file);
  if (!vocab.ok()) fail("set-up: vocabulary of " + gguf, vocab.status().to_string());
  auto tok = podserve::Tokenizer::create(*vocab);
  if (!tok.ok()) fail("set-up: tokenizer of " + gguf, tok.status().to_string());
  return st::TokenVocabulary::from_tokenizer(*tok, tok->vocab_size());
}

std::shared_ptr<const st::TokenVocabulary> small_vocab, large_vocab;

/// The rules of a printed grammar (one per line), sorted: equal for two printings of the same rules.
std::vector<std::string_view> rule_lines(std::string_view ebnf) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < ebnf.size();) {
    size_t end = ebnf.find('\n', start);
    if (end == std::string_view::npos) end = ebnf.size();
    lines.push_back(ebnf.substr(start, end - start));
    start = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

bool allowed(const std::vector<uint32_t>& mask, int32_t id) { return (mask[id / 32] >> (id % 32)) & 1u; }

/// Every sampled token's mask bit equals whether the parser accepts it; accepting one and rolling back restores
/// the state (the mask after is the mask before).
void check_mask(st::GrammarMatcher& m, bool every_token) {
  const st::TokenVocabulary& v = m.grammar().vocab();
  std::vector<uint32_t> mask(v.mask_words());
  m.fill_next_token_bitmask(mask);
  const int32_t n = v.vocab_size();
  const int32_t step = every_token ? 1 : std::max(1, n / 64);
  for (int32_t id = 0; id < n; id += step) {
    st::GrammarMatcher probe(m);
    const bool took = probe.accept_token(id);
    if (took != allowed(mask, id)) {
      fail("the token mask and accept_token disagree on token " + std::to_string(id),
           "mask says " + std::string(allowed(mask, id) ? "allowed" : "not allowed") + "; bytes: " + v.bytes(id));
    }
    if (took && !probe.is_terminated()) {
      probe.rollback(1);
      std::vector<uint32_t> again(v.mask_words());
      probe.fill_next_token_bitmask(again);
      if (again != mask) fail("rollback(1) after token " + std::to_string(id) + " changed the mask");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  small_vocab = vocab_of(podserve::fuzz::test_data_path() + "/tiny-llama.gguf");
  large_vocab = vocab_of(podserve::fuzz::model_path());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const auto parts = podserve::fuzz::split_input(data + 1, size - 1, podserve::fuzz::kPartSeparator, 2);
  st::StructuredConstraint c;
  using Kind = st::StructuredConstraint::Kind;
  static constexpr Kind kKinds[] = {Kind::kJsonSchema, Kind::kRegex, Kind::kGrammar, Kind::kChoice, Kind::kJsonObject};
  c.kind = kKinds[(mode & 7) % 5];
  c.any_whitespace = (mode & 8) == 0;
  if (c.kind == Kind::kChoice) {
    boost::system::error_code ec;
    const boost::json::value list = boost::json::parse(parts[0], ec);
    if (ec || !list.is_array()) return 0;
    for (const auto& item : list.as_array()) {
      if (!item.is_string()) return 0;
      c.choices.emplace_back(item.as_string());
    }
  } else if (c.kind != Kind::kJsonObject) {
    c.spec = std::string(parts[0]);
  }
  podserve::Result<st::Grammar> grammar = st::grammar_for(c);
  if (!grammar.ok()) return 0;

  const std::string printed = grammar->to_ebnf();
  podserve::Result<st::Grammar> reparsed = st::parse_ebnf(printed);
  if (!reparsed.ok()) fail("a printed grammar does not parse back: " + reparsed.status().message(), printed);
  if (const std::string again = reparsed->to_ebnf(); rule_lines(again) != rule_lines(printed)) {
    fail("a printed grammar has other rules once parsed back", printed + "\n--- parsed back, printed:\n" + again);
  }

  const bool large = (mode & 0x80) != 0;
  auto compiled = st::CompiledGrammar::compile(std::move(grammar).value(), large ? large_vocab : small_vocab);
  if (!compiled.ok()) return 0;
  st::GrammarMatcher m(*compiled);
  check_mask(m, !large);
  if (parts.size() > 1) {
    const std::string_view text = parts[1].substr(0, 512);
    st::GrammarMatcher before(m);
    if (m.accept_string(text)) {
      check_mask(m, !large);
    } else {
      std::vector<uint32_t> a(before.grammar().vocab().mask_words()), b(a.size());
      before.fill_next_token_bitmask(a);
      m.fill_next_token_bitmask(b);
      if (a != b) fail("a rejected string changed the matcher's state");
    }
  }
  return 0;
}
