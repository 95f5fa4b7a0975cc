// Tokenizer: validation of a TokenizerSpec and the encode/decode pipeline.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_map>

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/utf8.h"

namespace podserve {

using tokenizer_internal::BpeModel;
using tokenizer_internal::Decoder;
using tokenizer_internal::Normalizer;
using tokenizer_internal::PreTokenizer;
using tokenizer_internal::SpecialTokenMatcher;

struct Tokenizer::Impl {
  Impl(BpeModel b, Normalizer n, PreTokenizer p, Decoder d)
      : bpe(std::move(b)), normalizer(std::move(n)), pre(std::move(p)), decoder(std::move(d)) {}

  void encode_plain(std::string_view text, bool at_start, bool parse_special, std::vector<int32_t>* out) const;
  void encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>* out) const;

  BpeModel bpe;
  Normalizer normalizer;
  PreTokenizer pre;
  Decoder decoder;
  std::vector<std::string> tokens;  // id -> text (added-token content wins over the model's spelling)
  std::vector<bool> special;
  std::unordered_map<std::string, int32_t> added_ids;
  // Added tokens matched in raw text / in normalized text; `_all` includes special ones.
  SpecialTokenMatcher raw_all, raw_plain, normalized_all, normalized_plain;
  std::vector<int32_t> prefix_ids, suffix_ids;
  bool has_byte_level_decoder = false;
  std::vector<DecoderStep> per_token_steps;  // Replace / ByteFallback steps, for token_bytes
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
};

namespace {

Status check_id(const char* what, int32_t id, size_t n) {
  if (id < -1 || id >= static_cast<int64_t>(n)) {
    return invalid_argument(std::string(what) + " id " + std::to_string(id) + " is outside the vocabulary (" +
                            std::to_string(n) + " tokens)");
  }
  return ok_status();
}

}  // namespace

Result<Tokenizer> Tokenizer::create(TokenizerSpec spec) {
  size_t n = spec.vocab.size();
  for (const AddedTokenSpec& a : spec.added_tokens) {
    if (a.id < 0) return invalid_argument("added token '" + a.content + "' has a negative id");
    n = std::max(n, static_cast<size_t>(a.id) + 1);
  }
  if (n == 0) return invalid_argument("the vocabulary has no tokens");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max() / 2)) {
    return invalid_argument("the vocabulary has too many tokens");
  }
  PODSERVE_RETURN_IF_ERROR(check_id("bos", spec.bos_id, n));
  PODSERVE_RETURN_IF_ERROR(check_id("eos", spec.eos_id, n));
  PODSERVE_RETURN_IF_ERROR(check_id("unk", spec.unk_id, n));
  PODSERVE_RETURN_IF_ERROR(check_id("pad", spec.pad_id, n));
  for (int32_t id : spec.prefix_ids) PODSERVE_RETURN_IF_ERROR(check_id("post-processor", id, n));
  for (int32_t id : spec.suffix_ids) PODSERVE_RETURN_IF_ERROR(check_id("post-processor", id, n));
  if (spec.merges_from_scores) {
    if (spec.scores.size() != spec.vocab.size()) {
      return invalid_argument("scores has " + std::to_string(spec.scores.size()) + " entries for " +
                              std::to_string(spec.vocab.size()) + " tokens");
    }
    std::vector<bool> mergeable(spec.vocab.size(), true);
    for (const AddedTokenSpec& a : spec.added_tokens) {
      if (static_cast<size_t>(a.id) < mergeable.size()) mergeable[a.id] = false;
    }
    spec.merges = BpeModel::merges_from_scores(spec.vocab, spec.scores, mergeable);
  }
  BpeModel::Options options{spec.unk_id, spec.fuse_unk, spec.byte_fallback, spec.ignore_merges};
  PODSERVE_ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::create(spec.vocab, spec.merges, options));
  PODSERVE_ASSIGN_OR_RETURN(Normalizer normalizer, Normalizer::create(spec.normalizer));
  PODSERVE_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::create(spec.pre_tokenizer));
  auto impl = std::make_unique<Impl>(std::move(bpe), std::move(normalizer), std::move(pre), Decoder(spec.decoder));
  impl->tokens = std::move(spec.vocab);
  impl->tokens.resize(n);
  impl->special.assign(n, false);
  for (const AddedTokenSpec& a : spec.added_tokens) {
    impl->tokens[a.id] = a.content;
    impl->special[a.id] = a.special;
    impl->added_ids.insert_or_assign(a.content, a.id);
  }
  // Longest first keeps the matchers' inserts cheap (Gemma 3 has 6k added tokens); ties keep file order.
  std::vector<const AddedTokenSpec*> by_length;
  for (const AddedTokenSpec& a : spec.added_tokens) by_length.push_back(&a);
  std::stable_sort(by_length.begin(), by_length.end(), [](const AddedTokenSpec* x, const AddedTokenSpec* y) {
    return x->content.size() > y->content.size();
  });
  for (const AddedTokenSpec* a : by_length) {
    const SpecialTokenMatcher::Options match{a->lstrip, a->rstrip, a->single_word};
    if (a->normalized) {
      // Matched after normalization, so its own text is normalized too (as HF does).
      const std::string content = impl->normalizer.apply(a->content);
      impl->normalized_all.add(content, a->id, match);
      if (!a->special) impl->normalized_plain.add(content, a->id, match);
    } else {
      impl->raw_all.add(a->content, a->id, match);
      if (!a->special) impl->raw_plain.add(a->content, a->id, match);
    }
  }
  for (const DecoderStep& step : spec.decoder) {
    if (step.kind == DecoderStep::Kind::kByteLevel) impl->has_byte_level_decoder = true;
    if (step.kind == DecoderStep::Kind::kReplace || step.kind == DecoderStep::Kind::kByteFallback) {
      impl->per_token_steps.push_back(step);
    }
  }
  impl->prefix_ids = std::move(spec.prefix_ids);
  impl->suffix_ids = std::move(spec.suffix_ids);
  impl->bos_id = spec.bos_id;
  impl->eos_id = spec.eos_id;
  impl->pad_id = spec.pad_id;
  return Tokenizer(std::move(impl));
}

Result<Tokenizer> Tokenizer::create(const VocabData& vocab) {
  PODSERVE_ASSIGN_OR_RETURN(TokenizerSpec spec, spec_from_vocab(vocab));
  return create(std::move(spec));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::Impl::encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>* out) const {
  std::vector<std::string> pieces;
  pre.split(text, at_start, &pieces);
  for (const std::string& piece : pieces) bpe.encode_word(piece, out);
}

void Tokenizer::Impl::encode_plain(std::string_view text, bool at_start, bool parse_special,
                                   std::vector<int32_t>* out) const {
  size_t pos = 0;
  while (pos < text.size()) {
    // A valid UTF-8 run goes through normalizer and pre-tokenizer; invalid bytes (which ICU and the regex
    // engine must not see) go straight to the model, still encodable because BPE works on bytes.
    size_t valid_end = pos;
    while (valid_end < text.size()) {
      const size_t len = tokenizer_internal::utf8_valid_length(text, valid_end);
      if (len == 0) break;
      valid_end += len;
    }
    if (valid_end > pos) {
      const bool run_at_start = at_start && pos == 0;
      const std::string normalized = normalizer.apply(text.substr(pos, valid_end - pos));
      const SpecialTokenMatcher& matcher = parse_special ? normalized_all : normalized_plain;
      if (matcher.empty()) {
        encode_normalized(normalized, run_at_start, out);
      } else {
        std::vector<SpecialTokenMatcher::Segment> segments;
        matcher.split(normalized, &segments);
        for (const auto& seg : segments) {
          if (seg.id >= 0) {
            out->push_back(seg.id);
          } else {
            encode_normalized(seg.text, run_at_start && seg.text.data() == normalized.data(), out);
          }
        }
      }
    }
    size_t invalid_end = valid_end;
    while (invalid_end < text.size() && tokenizer_internal::utf8_valid_length(text, invalid_end) == 0) {
      ++invalid_end;
    }
    if (invalid_end > valid_end) {
      const std::string_view bad = text.substr(valid_end, invalid_end - valid_end);
      if (pre.byte_level()) {
        std::string word;
        tokenizer_internal::bytes_to_byte_level(bad, &word);
        bpe.encode_word(word, out);
      } else {
        bpe.encode_word(bad, out);
      }
    }
    pos = invalid_end;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special_tokens) out.insert(out.end(), m.prefix_ids.begin(), m.prefix_ids.end());
  const SpecialTokenMatcher& matcher = parse_special ? m.raw_all : m.raw_plain;
  if (matcher.empty()) {
    m.encode_plain(text, true, parse_special, &out);
  } else {
    std::vector<SpecialTokenMatcher::Segment> segments;
    matcher.split(text, &segments);
    for (const auto& seg : segments) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
      } else {
        m.encode_plain(seg.text, seg.text.data() == text.data(), parse_special, &out);
      }
    }
  }
  if (add_special_tokens) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special_tokens && impl_->special[id]) continue;
    tokens.push_back(impl_->tokens[id]);
  }
  return impl_->decoder.decode(tokens);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  std::string bytes;
  if (id < 0 || id >= vocab_size()) return bytes;
  const std::string& text = impl_->tokens[id];
  if (impl_->has_byte_level_decoder) {
    tokenizer_internal::byte_level_token_to_bytes(text, &bytes);
    return bytes;
  }
  if (impl_->per_token_steps.empty()) return text;
  // SentencePiece-style: '▁' -> ' ' (Replace) and <0xXX> -> the byte (ByteFallback), token by itself.
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (const DecoderStep& s : impl_->per_token_steps) {
    if (s.kind == DecoderStep::Kind::kByteFallback && text.size() == 6 && text.starts_with("<0x") &&
        text.back() == '>' && hex(text[3]) && hex(text[4])) {
      const auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
      return std::string(1, static_cast<char>(nibble(text[3]) * 16 + nibble(text[4])));
    }
  }
  return tokenizer_internal::Decoder(impl_->per_token_steps).decode({text});
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < vocab_size() ? impl_->tokens[id] : kEmpty;
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && impl_->special[id]; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->tokens.size()); }
int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
int32_t Tokenizer::pad_id() const { return impl_->pad_id; }

int32_t Tokenizer::find_token(std::string_view text) const {
  const auto it = impl_->added_ids.find(std::string(text));
  return it != impl_->added_ids.end() ? it->second : impl_->bpe.find(text);
}

}  // namespace podserve
