// Text <-> token ids. Built from plain vocabulary data (the model layer reads it from GGUF metadata, later
// from tokenizer.json); this layer knows no file formats.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve {

/// GGUF's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

/// Everything needed to build a tokenizer; field meanings follow GGUF's tokenizer.ggml.* keys.
struct VocabData {
  std::string model;                 // "gpt2" (byte-level BPE); "llama" (SentencePiece) comes later
  std::string pre;                   // pre-tokenizer id, e.g. "smollm", "gpt-2", "llama-bpe", "qwen2"
  std::vector<std::string> tokens;   // id -> token text (byte-level spelling for gpt2)
  std::vector<TokenType> token_types;  // empty = all normal
  std::vector<std::string> merges;   // "a b", in priority order
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false, add_eos = false;
};

class Tokenizer {
 public:
  static Result<Tokenizer> create(VocabData vocab);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  /// Encodes UTF-8 text. Special (control/user-defined) token texts in `text` become their ids when
  /// `parse_special` is set; `add_special_tokens` adds BOS/EOS as the vocabulary asks (add_bos/add_eos).
  /// Thread-safe. Invalid UTF-8 is encoded byte by byte; bytes the vocabulary cannot spell are dropped (as HF).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens, bool parse_special = true) const;
  /// Decodes ids to text (invalid UTF-8 sequences become U+FFFD); ids out of range are skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
  /// The raw bytes one token stands for (byte-level decoded); "" for out-of-range ids.
  std::string token_bytes(int32_t id) const;
  /// The token's text as written in the vocabulary (e.g. "Ġthe").
  const std::string& token_text(int32_t id) const;
  bool is_special(int32_t id) const;  // control or user-defined
  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  /// Id of a token by its exact vocabulary text, or -1.
  int32_t find_token(std::string_view text) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Turns a stream of token ids into text, emitting only complete UTF-8 (a multi-byte character split across
/// tokens is held back until it is whole).
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
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace podserve
