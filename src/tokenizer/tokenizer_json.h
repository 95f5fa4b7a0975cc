// Reads HF `tokenizers`' tokenizer.json into a TokenizerSpec. Supported: model BPE (byte-level or
// SentencePiece-style with byte_fallback); normalizers Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD,
// Lowercase, Strip; pre-tokenizers Sequence, Split, ByteLevel, Metaspace, Digits; post-processors
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence; decoders Sequence, ByteLevel,
// Replace, ByteFallback, Fuse, Strip, Metaspace. Anything else is InvalidArgument naming the type.
#pragma once

#include <string_view>

#include "base/status.h"
#include "tokenizer/spec.h"

namespace podserve {

Result<TokenizerSpec> parse_tokenizer_json(std::string_view json_text);

}  // namespace podserve
