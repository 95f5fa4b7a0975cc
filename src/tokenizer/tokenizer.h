// Text <-> token ids, the way HF `tokenizers` runs a tokenizer.json: added tokens -> normalizer ->
// pre-tokenizer -> BPE (byte-level or SentencePiece-style with byte fallback) -> post-processor, and the
// decoder chain back. Built from a TokenizerSpec (tokenizer_json.h reads one from tokenizer.json;
// hf_tokenizer.h loads a model directory) or from GGUF vocabulary data (VocabData).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/spec.h"

namespace podserve {

/// GGUF's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

/// A GGUF vocabulary; field meanings follow GGUF's tokenizer.ggml.* keys.
struct VocabData {
  std::string model;                 // "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE with byte fallback)
  std::string pre;                   // gpt2 pre-tokenizer id: "smollm", "gpt-2", "default", "llama-bpe", "qwen2"
  std::vector<std::string> tokens;   // id -> token text (byte-level spelling for gpt2, '▁' for spaces in llama)
  std::vector<TokenType> token_types;  // empty = all normal
  std::vector<std::string> merges;   // gpt2: "a b", in priority order
  std::vector<float> scores;         // llama: merge priority (higher merges first)
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = true;      // llama: a '▁' is put before the text
};

/// The TokenizerSpec equivalent to a GGUF vocabulary (what HF's GGUF converters build).
Result<TokenizerSpec> spec_from_vocab(const VocabData& vocab);

class Tokenizer {
 public:
  static Result<Tokenizer> create(TokenizerSpec spec);
  static Result<Tokenizer> create(const VocabData& vocab);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  /// Encodes UTF-8 text. Special added-token texts in `text` become their ids when `parse_special` is set
  /// (non-special added tokens always do, as in HF); `add_special_tokens` runs the post-processor (BOS...).
  /// Thread-safe. Invalid UTF-8 is encoded byte by byte; bytes the vocabulary cannot spell are dropped (as HF).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens, bool parse_special = true) const;
  /// Decodes ids with the decoder chain (always valid UTF-8); ids out of range are skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
  /// The raw bytes one token stands for on its own; "" for out-of-range ids.
  std::string token_bytes(int32_t id) const;
  /// The token's text as written in the vocabulary (e.g. "Ġthe", "▁the", "<|im_end|>").
  const std::string& token_text(int32_t id) const;
  bool is_special(int32_t id) const;  // a special added token (GGUF: control or user-defined)
  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t pad_id() const;
  /// Id of a token by its exact text (added tokens first, then the model vocabulary), or -1.
  int32_t find_token(std::string_view text) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Turns a stream of token ids into text as HF's DecodeStream does: the recent ids are decoded together and
/// only text that is complete (not ending in U+FFFD, i.e. no partial UTF-8 character) is emitted.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);
  /// Adds one token and returns the text that became complete (possibly "").
  std::string push(int32_t id);
  /// Returns what is still held back (incomplete bytes become U+FFFD), at the end of generation. The
  /// concatenation of all push() and flush() results equals Tokenizer::decode of the same ids.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // the window: ids of the last emitted text, then those not yet emitted
  std::string prefix_;        // decode of ids_[0, prefix_count_)
  size_t prefix_count_ = 0;
};

}  // namespace podserve
