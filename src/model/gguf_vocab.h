// Reads a GGUF file's tokenizer.ggml.* metadata into the tokenizer layer's VocabData.
#pragma once

#include "base/status.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

/// The vocabulary described by `file`'s tokenizer.ggml.* keys. Missing required keys, arrays of mismatched
/// length, special-token ids outside the vocabulary, unknown token types and tokenizer models other than
/// "gpt2" (byte-level BPE) are InvalidArgument errors naming the key.
Result<VocabData> vocab_from_gguf(const GgufFile& file);

}  // namespace podserve
