// spec_from_vocab: a GGUF vocabulary as the HF pipeline it stands for. `gpt2` vocabularies pick their
// pre-tokenizer by `tokenizer.ggml.pre` (llama.cpp's ids); `llama` ones are SentencePiece BPE with byte
// fallback, merges ranked by score, like HF's LlamaConverter builds them.
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

void llama_spec(const VocabData& v, TokenizerSpec* spec) {
  if (v.add_space_prefix) spec->normalizer.push_back({NormalizerStep::Kind::kPrepend, "", kSpace, false, false});
  spec->normalizer.push_back({NormalizerStep::Kind::kReplace, " ", kSpace, false, false});
  spec->scores = v.scores;
  spec->merges_from_scores = true;
  spec->byte_fallback = true;
  spec->fuse_unk = true;
  spec->unk_id = v.unk_id;
  DecoderStep strip = decoder_step(DecoderStep::Kind::kStrip, "", " ");
  strip.start = 1;
  spec->decoder = {decoder_step(DecoderStep::Kind::kReplace, kSpace, " "), decoder_step(DecoderStep::Kind::kByteFallback),
                   decoder_step(DecoderStep::Kind::kFuse)};
  if (v.add_space_prefix) spec->decoder.push_back(strip);
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
    llama_spec(v, &spec);
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
