// HF decoders (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace) applied in sequence to the list of
// token strings, as `decoder.decode_chain` does; the result is always valid UTF-8.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/spec.h"

namespace podserve::tokenizer_internal {

class Decoder {
 public:
  explicit Decoder(std::vector<DecoderStep> steps) : steps_(std::move(steps)) {}
  /// The text of `tokens` (vocabulary spellings / added-token contents, in order).
  std::string decode(const std::vector<std::string_view>& tokens) const;

 private:
  std::vector<DecoderStep> steps_;
};

}  // namespace podserve::tokenizer_internal
