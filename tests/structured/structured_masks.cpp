// Test driver for tests/structured/test_masks_vs_xgrammar.py: one JSON request per stdin line, one JSON answer
// per stdout line. Loads a vocabulary (a tokenizer.json directory or a GGUF file's), compiles an EBNF grammar
// (or a constraint of another kind) against it and walks token sequences, reporting the token bitmask before
// each token, how many tokens were accepted, and the end state.
//   {"name": V, "tokenizer": DIR | "gguf": FILE, "vocab_size": N} -> {"eos": id, "num_tokens": n, "bytes": [hex...]}
//   {"vocab": V, "ebnf": TEXT | "kind": K, "spec": TEXT, "choices": [...], "walks": [[id...]...]}
//      -> {"compile_ms": t, "walks": [{"masks": [hex...], "accepted": k, "can_end": b, "terminated": b}]}
//      or {"error": message}
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "structured/grammar_compiler.h"
#include "structured/matcher.h"
#include "tokenizer/hf_tokenizer.h"

namespace json = boost::json;
using namespace podserve;
using namespace podserve::structured;

namespace {

std::string hex(const void* data, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

struct Vocab {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<GrammarCompiler> compiler;
};
using State = std::map<std::string, Vocab>;

json::object load_vocab(State& state, const json::object& req) {
  Vocab& st = state[std::string(req.at("name").as_string())];
  json::object out;
  Result<Tokenizer> tok = invalid_argument("no tokenizer");
  if (const json::value* dir = req.if_contains("tokenizer")) {
    Result<HfTokenizer> hf = load_hf_tokenizer(std::string(dir->as_string()));
    if (hf.ok()) tok = std::move(hf->tokenizer);
    else tok = hf.status();
  } else {
    Result<GgufFile> file = GgufFile::open(std::string(req.at("gguf").as_string()));
    if (!file.ok()) {
      out["error"] = file.status().message();
      return out;
    }
    Result<VocabData> vocab = vocab_from_gguf(*file);
    if (!vocab.ok()) {
      out["error"] = vocab.status().message();
      return out;
    }
    tok = Tokenizer::create(*vocab);
  }
  if (!tok.ok()) {
    out["error"] = tok.status().message();
    return out;
  }
  st.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  const auto vocab_size = static_cast<int32_t>(req.at("vocab_size").as_int64());
  auto vocab = TokenVocabulary::from_tokenizer(*st.tokenizer, vocab_size);
  json::array bytes;
  for (size_t id = 0; id < vocab->num_tokens(); ++id) bytes.emplace_back(hex(vocab->bytes(static_cast<int32_t>(id)).data(), vocab->bytes(static_cast<int32_t>(id)).size()));
  out["eos"] = st.tokenizer->eos_id();
  out["num_tokens"] = static_cast<int64_t>(vocab->num_tokens());
  out["bytes"] = std::move(bytes);
  st.compiler = std::make_unique<GrammarCompiler>(vocab);
  return out;
}

json::object run(State& state, const json::object& req) {
  json::object out;
  auto it = state.find(std::string(req.at("vocab").as_string()));
  if (it == state.end()) {
    out["error"] = "no such vocabulary loaded";
    return out;
  }
  Vocab& st = it->second;
  StructuredConstraint c;
  if (const json::value* e = req.if_contains("ebnf")) {
    c.kind = StructuredConstraint::Kind::kGrammar;
    c.spec = std::string(e->as_string());
  } else {
    const std::string kind(req.at("kind").as_string());
    c.kind = kind == "json"     ? StructuredConstraint::Kind::kJsonSchema
             : kind == "regex"  ? StructuredConstraint::Kind::kRegex
             : kind == "choice" ? StructuredConstraint::Kind::kChoice
             : kind == "structural_tag" ? StructuredConstraint::Kind::kStructuralTag
                                : StructuredConstraint::Kind::kJsonObject;
    if (const json::value* s = req.if_contains("spec")) c.spec = std::string(s->as_string());
    if (const json::value* ch = req.if_contains("choices")) {
      for (const auto& x : ch->as_array()) c.choices.emplace_back(x.as_string());
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  Result<std::shared_ptr<const CompiledGrammar>> g = st.compiler->compile(c);
  out["compile_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  out["compile_cpu_ms"] = 1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  if (!g.ok()) {
    out["error"] = g.status().message();
    return out;
  }
  std::vector<uint32_t> mask((*g)->vocab().mask_words());
  json::array walks;
  double fill_cpu_ms = 0;
  int64_t fills = 0;
  for (const auto& walk : req.at("walks").as_array()) {
    GrammarMatcher m(*g);
    json::array masks;
    int64_t accepted = 0;
    for (const auto& t : walk.as_array()) {
      const std::clock_t f0 = std::clock();
      m.fill_next_token_bitmask(mask);
      fill_cpu_ms += 1000.0 * static_cast<double>(std::clock() - f0) / CLOCKS_PER_SEC;
      ++fills;
      masks.emplace_back(hex(mask.data(), mask.size() * 4));
      if (!m.accept_token(static_cast<int32_t>(t.as_int64()))) break;
      ++accepted;
    }
    if (accepted == static_cast<int64_t>(walk.as_array().size())) {
      m.fill_next_token_bitmask(mask);
      masks.emplace_back(hex(mask.data(), mask.size() * 4));
    }
    json::object w;
    w["masks"] = std::move(masks);
    w["accepted"] = accepted;
    w["can_end"] = m.can_end();
    w["terminated"] = m.is_terminated();
    walks.emplace_back(std::move(w));
  }
  out["walks"] = std::move(walks);
  out["fill_cpu_us"] = fills > 0 ? 1000.0 * fill_cpu_ms / static_cast<double>(fills) : 0.0;
  return out;
}

}  // namespace

int main() {
  State st;
  std::string line;
  while (std::getline(std::cin, line)) {
    boost::system::error_code ec;
    json::value req = json::parse(line, ec);
    json::object out;
    if (ec || !req.is_object()) {
      out["error"] = "bad request line";
    } else if (req.as_object().contains("vocab_size")) {
      out = load_vocab(st, req.as_object());
    } else {
      out = run(st, req.as_object());
    }
    std::cout << json::serialize(out) << "\n" << std::flush;
  }
  return 0;
}
