// spec_from_vocab: a GGUF vocabulary as the HF pipeline it stands for. `gpt2` vocabularies pick their
// pre-tokenizer by `tokenizer.ggml.pre` (llama.cpp's ids); `llama` ones are SentencePiece BPE with byte
// fallback, merges ranked by score, like HF's LlamaConverter builds them.
#include <algorithm>
#include <array>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace podserve {
namespace {

using tokenizer_internal::kGpt2Regex;
using tokenizer_internal::kLlama3Regex;
using tokenizer_internal::kQwen2Regex;

const std::string kSpace = "\xE2\x96\x81";  // '▁'

PreTokenizerStep byte_level(bool use_regex) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::kByteLevel;
  s.use_regex = use_regex;
  return s;
}

PreTokenizerStep split_regex(std::string_view pattern) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::kSplit;
  s.pattern = std::string(pattern);
  return s;
}

DecoderStep decoder_step(DecoderStep::Kind kind, std::string pattern = "", std::string content = "") {
  DecoderStep s;
  s.kind = kind;
  s.pattern = std::move(pattern);
  s.content = std::move(content);
  return s;
}

struct GptPre {
  std::string_view id;
  std::vector<PreTokenizerStep> (*steps)();
  bool ignore_merges;
  bool nfc;
};

const GptPre kGptPres[] = {
    {"default", [] { return std::vector{byte_level(true)}; }, false, false},
    {"gpt-2", [] { return std::vector{byte_level(true)}; }, false, false},
    // SmolLM2: Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)].
    {"smollm",
     [] {
       PreTokenizerStep digits;
       digits.kind = PreTokenizerStep::Kind::kDigits;
       digits.individual_digits = true;
       return std::vector{digits, byte_level(true)};
     },
     false, false},
    {"llama-bpe", [] { return std::vector{split_regex(kLlama3Regex), byte_level(false)}; }, true, false},
    {"qwen2", [] { return std::vector{split_regex(kQwen2Regex), byte_level(false)}; }, false, true},
};

Status gpt2_spec(const VocabData& v, TokenizerSpec* spec) {
  const GptPre* pre = nullptr;
  const std::string id = v.pre.empty() ? std::string("default") : v.pre;
  for (const GptPre& p : kGptPres) {
    if (p.id == id) pre = &p;
  }
  if (pre == nullptr) {
    std::string known;
    for (const GptPre& p : kGptPres) known += (known.empty() ? "" : ", ") + std::string(p.id);
    return invalid_argument("unsupported pre-tokenizer '" + std::string(id) + "' (supported: " + known + ")");
  }
  spec->pre_tokenizer = pre->steps();
  spec->ignore_merges = pre->ignore_merges;
  if (pre->nfc) spec->normalizer.push_back({NormalizerStep::Kind::kNfc, "", "", false, false});
  spec->merges.reserve(v.merges.size());
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    const std::string& merge = v.merges[rank];
    // Split at the first space after the first character: halves are byte-level spelled, so never " ".
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      return invalid_argument("merge " + std::to_string(rank) + " '" + merge + "' is not of the form 'a b'");
    }
    spec->merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }
  spec->decoder.push_back(decoder_step(DecoderStep::Kind::kByteLevel));
  // Only a real unknown-type token stands in for characters missing from the vocabulary: GGUF byte-level
  // vocabularies often point unknown_token_id at a control token (SmolLM2: <|endoftext|>), and HF and llama.cpp
  // both drop such characters instead.
  const bool real_unk = v.unk_id >= 0 && !v.token_types.empty() && v.token_types[v.unk_id] == TokenType::kUnknown;
  spec->unk_id = real_unk ? v.unk_id : -1;
  return ok_status();
}

bool is_added(const VocabData& v, size_t id) {
  if (v.token_types.empty()) return false;
  const TokenType t = v.token_types[id];
  return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
}

// Spelling -> id of the mergeable tokens, for the split lookups below (1.1M of them for Gemma 3's 262k tokens,
// which std::unordered_map made the slowest part of loading). Keys are polynomial hashes, so the hash of every
// prefix and suffix of a token comes in O(1) from the token's own; a hit is confirmed on the bytes.
class SplitIndex {
 public:
  static constexpr uint64_t kBase = 0x100000001B3ULL;
  static uint64_t extend(uint64_t h, char c) { return h * kBase + static_cast<uint8_t>(c); }
  static uint64_t hash(std::string_view s) {
    uint64_t h = 0;
    for (char c : s) h = extend(h, c);
    return h;
  }

  explicit SplitIndex(const VocabData& v) : tokens_(v.tokens) {
    size_t cap = 16;
    while (cap < 2 * v.tokens.size()) cap *= 2;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    for (size_t id = 0; id < v.tokens.size(); ++id) {
      if (v.tokens[id].empty() || is_added(v, id)) continue;
      const std::string_view text = v.tokens[id];
      const uint64_t h = hash(text);
      size_t i = mix(h) & mask_;
      while (slots_[i].id >= 0 && !(slots_[i].hash == h && tokens_[slots_[i].id] == text)) i = (i + 1) & mask_;
      if (slots_[i].id < 0) slots_[i] = {h, static_cast<int32_t>(id)};  // a repeated spelling keeps its first id
    }
  }

  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[mix(h) & mask_]); }
  /// The id spelled `text` (whose hash is `h`), or -1.
  int32_t find(std::string_view text, uint64_t h) const {
    for (size_t i = mix(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && tokens_[s.id] == text) return s.id;
    }
  }

 private:
  struct Slot {
    uint64_t hash;
    int32_t id;  // -1: empty
  };
  static uint64_t mix(uint64_t h) {  // splitmix64's finalizer: the polynomial hash's low bits are weak
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
  }
  const std::vector<std::string>& tokens_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// SentencePiece BPE as merges (HF's SentencePieceExtractor): every split of a mergeable token into two
// mergeable tokens, at a character boundary, ranked by the merged token's score (higher first), then by the
// merged, left and right ids. Control, user-defined and unknown tokens take no part.
Result<std::vector<std::pair<std::string, std::string>>> sentencepiece_merges(const VocabData& v) {
  if (v.scores.size() != v.tokens.size()) {
    return invalid_argument("scores has " + std::to_string(v.scores.size()) + " entries for " +
                            std::to_string(v.tokens.size()) + " tokens");
  }
  const SplitIndex index(v);
  struct Ranked {
    float score;
    int32_t merged, left, right;
    uint32_t split;
  };
  std::vector<Ranked> ranked;
  std::vector<uint64_t> power;  // power[k] = kBase^k
  // Candidate splits are collected in batches whose hash slots are prefetched before any is looked up: the
  // lookups are bound by memory latency, and this lets their cache misses overlap.
  struct Candidate {
    int32_t id;
    uint32_t split;
    uint64_t left_hash, right_hash;
  };
  std::vector<Candidate> batch;
  const auto flush = [&] {
    for (const Candidate& c : batch) {
      const std::string_view text = v.tokens[c.id];
      const int32_t left = index.find(text.substr(0, c.split), c.left_hash);
      if (left < 0) continue;
      const int32_t right = index.find(text.substr(c.split), c.right_hash);
      if (right >= 0) ranked.push_back({v.scores[c.id], c.id, left, right, c.split});
    }
    batch.clear();
  };
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const std::string_view text = v.tokens[id];
    if (text.size() < 2 || is_added(v, id)) continue;
    const uint64_t whole = SplitIndex::hash(text);
    if (index.find(text, whole) != static_cast<int32_t>(id)) continue;  // a repeated spelling counts once
    while (power.size() <= text.size()) power.push_back(power.empty() ? 1 : power.back() * SplitIndex::kBase);
    uint64_t prefix = SplitIndex::extend(0, text[0]);
    for (size_t split = 1; split < text.size(); prefix = SplitIndex::extend(prefix, text[split++])) {
      if ((static_cast<uint8_t>(text[split]) & 0xC0) == 0x80) continue;  // not a character boundary
      const uint64_t suffix = whole - prefix * power[text.size() - split];
      index.prefetch(prefix);
      index.prefetch(suffix);
      batch.push_back({static_cast<int32_t>(id), static_cast<uint32_t>(split), prefix, suffix});
    }
    if (batch.size() >= 32) flush();
  }
  flush();
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
    if (x.score != y.score) return x.score > y.score;
    if (x.merged != y.merged) return x.merged < y.merged;
    if (x.left != y.left) return x.left < y.left;
    return x.right < y.right;
  });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(ranked.size());
  for (const Ranked& r : ranked) {
    const std::string_view text = v.tokens[r.merged];
    merges.emplace_back(text.substr(0, r.split), text.substr(r.split));
  }
  return merges;
}

Status llama_spec(const VocabData& v, TokenizerSpec* spec) {
  if (v.add_space_prefix) spec->normalizer.push_back({NormalizerStep::Kind::kPrepend, "", kSpace, false, false});
  spec->normalizer.push_back({NormalizerStep::Kind::kReplace, " ", kSpace, false, false});
  PODSERVE_ASSIGN_OR_RETURN(spec->merges, sentencepiece_merges(v));
  spec->byte_fallback = true;
  spec->fuse_unk = true;
  spec->unk_id = v.unk_id;
  DecoderStep strip = decoder_step(DecoderStep::Kind::kStrip, "", " ");
  strip.start = 1;
  spec->decoder = {decoder_step(DecoderStep::Kind::kReplace, kSpace, " "), decoder_step(DecoderStep::Kind::kByteFallback),
                   decoder_step(DecoderStep::Kind::kFuse)};
  if (v.add_space_prefix) spec->decoder.push_back(strip);
  return ok_status();
}

}  // namespace

Result<TokenizerSpec> spec_from_vocab(const VocabData& v) {
  if (v.tokens.empty()) return invalid_argument("the vocabulary has no tokens");
  if (!v.token_types.empty() && v.token_types.size() != v.tokens.size()) {
    return invalid_argument("token_types has " + std::to_string(v.token_types.size()) + " entries for " +
                            std::to_string(v.tokens.size()) + " tokens");
  }
  if (v.unk_id >= static_cast<int64_t>(v.tokens.size())) {
    return invalid_argument("unk id " + std::to_string(v.unk_id) + " is outside the vocabulary");
  }
  TokenizerSpec spec;
  if (v.model == "gpt2") {
    PODSERVE_RETURN_IF_ERROR(gpt2_spec(v, &spec));
  } else if (v.model == "llama") {
    PODSERVE_RETURN_IF_ERROR(llama_spec(v, &spec));
  } else {
    return invalid_argument("unsupported tokenizer model '" + v.model + "' (supported: gpt2, llama)");
  }
  spec.vocab = v.tokens;
  for (size_t id = 0; id < v.token_types.size(); ++id) {
    const TokenType t = v.token_types[id];
    // Like llama.cpp, the unknown token's text is matched as a special token too.
    if (t != TokenType::kControl && t != TokenType::kUserDefined && t != TokenType::kUnknown) continue;
    AddedTokenSpec a;
    a.id = static_cast<int32_t>(id);
    a.content = v.tokens[id];
    // llama.cpp always matches user-defined tokens (Gemma's whitespace runs, "<2mass>"...) and always renders
    // them; only control and unknown tokens depend on parse_special / skip_special_tokens.
    a.special = t != TokenType::kUserDefined;
    spec.added_tokens.push_back(std::move(a));
  }
  if (v.add_bos && v.bos_id >= 0) spec.prefix_ids.push_back(v.bos_id);
  if (v.add_eos && v.eos_id >= 0) spec.suffix_ids.push_back(v.eos_id);
  spec.bos_id = v.bos_id;
  spec.eos_id = v.eos_id;
  spec.pad_id = v.pad_id;
  return spec;
}

}  // namespace podserve
