// Tokenizer: validation of VocabData and the encode/decode pipeline (special-token split -> pre-tokenizer ->
// byte-level mapping -> BPE; decode maps byte-level text back to bytes).
#include "tokenizer/tokenizer.h"

#include <limits>

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/utf8.h"

namespace podserve {

using tokenizer_internal::BpeModel;
using tokenizer_internal::PreTokenizer;
using tokenizer_internal::SpecialTokenMatcher;

struct Tokenizer::Impl {
  Impl(VocabData v, PreTokenizer p, BpeModel b) : vocab(std::move(v)), pre(std::move(p)), bpe(std::move(b)) {}

  void encode_ordinary(std::string_view text, std::vector<int32_t>* out) const;

  VocabData vocab;
  PreTokenizer pre;
  BpeModel bpe;
  SpecialTokenMatcher specials;
  std::vector<bool> special;  // per id: control or user-defined
};

namespace {

bool is_special_type(TokenType t) { return t == TokenType::kControl || t == TokenType::kUserDefined; }

Status check_id(const char* what, int32_t id, size_t n) {
  if (id < -1 || id >= static_cast<int64_t>(n)) {
    return invalid_argument(std::string(what) + " id " + std::to_string(id) + " is outside the vocabulary (" +
                            std::to_string(n) + " tokens)");
  }
  return ok_status();
}

Status validate(const VocabData& v) {
  if (v.model != "gpt2") {
    return invalid_argument("unsupported tokenizer model '" + v.model + "' (supported: gpt2)");
  }
  if (v.tokens.empty()) return invalid_argument("the vocabulary has no tokens");
  if (v.tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return invalid_argument("the vocabulary has too many tokens");
  }
  if (!v.token_types.empty() && v.token_types.size() != v.tokens.size()) {
    return invalid_argument("token_types has " + std::to_string(v.token_types.size()) + " entries for " +
                            std::to_string(v.tokens.size()) + " tokens");
  }
  PODSERVE_RETURN_IF_ERROR(check_id("bos", v.bos_id, v.tokens.size()));
  PODSERVE_RETURN_IF_ERROR(check_id("eos", v.eos_id, v.tokens.size()));
  PODSERVE_RETURN_IF_ERROR(check_id("unk", v.unk_id, v.tokens.size()));
  PODSERVE_RETURN_IF_ERROR(check_id("pad", v.pad_id, v.tokens.size()));
  return ok_status();
}

}  // namespace

Result<Tokenizer> Tokenizer::create(VocabData vocab) {
  PODSERVE_RETURN_IF_ERROR(validate(vocab));
  PODSERVE_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::create(vocab.pre));
  // Only a real unknown-type token stands in for characters missing from the vocabulary: GGUF byte-level
  // vocabularies often point unknown_token_id at a control token (SmolLM2: <|endoftext|>), and HF and llama.cpp
  // both drop such characters instead.
  const bool real_unk = vocab.unk_id >= 0 && !vocab.token_types.empty() &&
                        vocab.token_types[vocab.unk_id] == TokenType::kUnknown;
  PODSERVE_ASSIGN_OR_RETURN(
      BpeModel bpe, BpeModel::create(vocab.tokens, vocab.merges, real_unk ? vocab.unk_id : -1, pre.ignore_merges()));
  vocab.merges.clear();  // now held by `bpe` in indexed form
  vocab.merges.shrink_to_fit();
  auto impl = std::make_unique<Impl>(std::move(vocab), std::move(pre), std::move(bpe));
  const VocabData& v = impl->vocab;
  impl->special.assign(v.tokens.size(), false);
  for (size_t id = 0; id < v.token_types.size(); ++id) {
    if (!is_special_type(v.token_types[id])) continue;
    impl->special[id] = true;
    impl->specials.add(v.tokens[id], static_cast<int32_t>(id));
  }
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<std::string_view> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    // A valid UTF-8 run goes through the regexes; invalid bytes (which the regex engine must not see)
    // become a piece of their own, still encodable because BPE works on bytes.
    size_t valid_end = pos;
    while (valid_end < text.size()) {
      const size_t len = tokenizer_internal::utf8_valid_length(text, valid_end);
      if (len == 0) break;
      valid_end += len;
    }
    if (valid_end > pos) pre.split(text.substr(pos, valid_end - pos), &pieces);
    size_t invalid_end = valid_end;
    while (invalid_end < text.size() && tokenizer_internal::utf8_valid_length(text, invalid_end) == 0) {
      ++invalid_end;
    }
    if (invalid_end > valid_end) pieces.push_back(text.substr(valid_end, invalid_end - valid_end));
    pos = invalid_end;
  }
  std::string word;
  for (std::string_view piece : pieces) {
    word.clear();
    tokenizer_internal::bytes_to_byte_level(piece, &word);
    bpe.encode_word(word, out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens, bool parse_special) const {
  const VocabData& v = impl_->vocab;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special_tokens && v.add_bos && v.bos_id >= 0) out.push_back(v.bos_id);
  if (parse_special && !impl_->specials.empty()) {
    std::vector<SpecialTokenMatcher::Segment> segments;
    impl_->specials.split(text, &segments);
    for (const auto& seg : segments) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
      } else {
        impl_->encode_ordinary(seg.text, &out);
      }
    }
  } else {
    impl_->encode_ordinary(text, &out);
  }
  if (add_special_tokens && v.add_eos && v.eos_id >= 0) out.push_back(v.eos_id);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special_tokens && impl_->special[id]) continue;
    tokenizer_internal::byte_level_to_bytes(impl_->vocab.tokens[id], &bytes);
  }
  return tokenizer_internal::utf8_lossy(bytes);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  std::string bytes;
  if (id >= 0 && id < vocab_size()) tokenizer_internal::byte_level_to_bytes(impl_->vocab.tokens[id], &bytes);
  return bytes;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < vocab_size() ? impl_->vocab.tokens[id] : kEmpty;
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && impl_->special[id]; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->vocab.tokens.size()); }
int32_t Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->vocab.eos_id; }
int32_t Tokenizer::find_token(std::string_view text) const { return impl_->bpe.find(text); }

}  // namespace podserve
