#include "model/gguf_vocab.h"

#include <string>

namespace podserve {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";

// Every vocabulary problem is the file's fault, so surface it as InvalidArgument whatever the accessor said.
Status vocab_error(const GgufFile& file, const std::string& message) {
  return invalid_argument("'" + file.name() + "': bad tokenizer metadata: " + message);
}

template <typename T>
Result<T> required(const GgufFile& file, Result<T> value) {
  if (!value.ok()) return vocab_error(file, value.status().message());
  return value;
}

// An optional special-token id key: -1 when absent, else it must name a token.
Result<int32_t> optional_id(const GgufFile& file, std::string_view key, size_t num_tokens) {
  if (!file.has(key)) return -1;
  Result<int64_t> id = file.get_int(key);
  if (!id.ok()) return vocab_error(file, id.status().message());
  if (*id < 0 || static_cast<uint64_t>(*id) >= num_tokens) {
    return vocab_error(file, std::string(key) + " = " + std::to_string(*id) + " is outside the vocabulary (" +
                                 std::to_string(num_tokens) + " tokens)");
  }
  return static_cast<int32_t>(*id);
}

Result<bool> optional_bool(const GgufFile& file, std::string_view key, bool fallback) {
  if (!file.has(key)) return fallback;
  Result<bool> value = file.get_bool(key);
  if (!value.ok()) return vocab_error(file, value.status().message());
  return *value;
}

Result<TokenType> token_type_from_int(const GgufFile& file, int64_t value, size_t index) {
  if (value == 0) return TokenType::kNormal;  // llama.cpp's "undefined" type
  if (value >= static_cast<int64_t>(TokenType::kNormal) && value <= static_cast<int64_t>(TokenType::kByte)) {
    return static_cast<TokenType>(value);
  }
  return vocab_error(file, "tokenizer.ggml.token_type[" + std::to_string(index) + "] = " + std::to_string(value) +
                               " is not a known token type");
}

}  // namespace

Result<VocabData> vocab_from_gguf(const GgufFile& file) {
  VocabData v;
  PODSERVE_ASSIGN_OR_RETURN(v.model, required(file, file.get_string(kModelKey)));
  if (v.model != "gpt2" && v.model != "llama") {
    return vocab_error(file, "unsupported tokenizer.ggml.model '" + v.model + "' (supported: gpt2, llama)");
  }
  if (file.has("tokenizer.ggml.pre")) {
    PODSERVE_ASSIGN_OR_RETURN(v.pre, required(file, file.get_string("tokenizer.ggml.pre")));
  } else {
    v.pre = "default";  // llama.cpp's choice for files written before the key existed
  }
  PODSERVE_ASSIGN_OR_RETURN(v.tokens, required(file, file.get_string_array("tokenizer.ggml.tokens")));
  if (v.tokens.empty()) return vocab_error(file, "tokenizer.ggml.tokens is empty");
  const size_t n = v.tokens.size();

  if (file.has("tokenizer.ggml.token_type")) {
    PODSERVE_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                              required(file, file.get_int_array("tokenizer.ggml.token_type")));
    if (types.size() != n) {
      return vocab_error(file, "tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                                   " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    }
    v.token_types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      PODSERVE_ASSIGN_OR_RETURN(TokenType t, token_type_from_int(file, types[i], i));
      v.token_types.push_back(t);
    }
  }
  if (v.model == "gpt2") {
    PODSERVE_ASSIGN_OR_RETURN(v.merges, required(file, file.get_string_array("tokenizer.ggml.merges")));
  } else {  // llama (SentencePiece): scores rank the merges
    PODSERVE_ASSIGN_OR_RETURN(std::vector<double> scores,
                              required(file, file.get_float_array("tokenizer.ggml.scores")));
    if (scores.size() != n) {
      return vocab_error(file, "tokenizer.ggml.scores has " + std::to_string(scores.size()) +
                                   " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    }
    v.scores.assign(scores.begin(), scores.end());
    PODSERVE_ASSIGN_OR_RETURN(v.add_space_prefix, optional_bool(file, "tokenizer.ggml.add_space_prefix", true));
  }

  PODSERVE_ASSIGN_OR_RETURN(v.bos_id, optional_id(file, "tokenizer.ggml.bos_token_id", n));
  PODSERVE_ASSIGN_OR_RETURN(v.eos_id, optional_id(file, "tokenizer.ggml.eos_token_id", n));
  PODSERVE_ASSIGN_OR_RETURN(v.unk_id, optional_id(file, "tokenizer.ggml.unknown_token_id", n));
  PODSERVE_ASSIGN_OR_RETURN(v.pad_id, optional_id(file, "tokenizer.ggml.padding_token_id", n));
  // llama.cpp's default: SentencePiece vocabularies add BOS unless told otherwise.
  PODSERVE_ASSIGN_OR_RETURN(v.add_bos, optional_bool(file, "tokenizer.ggml.add_bos_token", v.model == "llama"));
  PODSERVE_ASSIGN_OR_RETURN(v.add_eos, optional_bool(file, "tokenizer.ggml.add_eos_token", false));
  return v;
}

}  // namespace podserve
