// IncrementalDetokenizer: the same lossy UTF-8 decoding as Tokenizer::decode, applied to a growing byte
// stream, so the concatenated chunks always equal the full decode.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace podserve {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string IncrementalDetokenizer::push(int32_t id) {
  if (id < 0 || id >= tokenizer_->vocab_size()) return "";
  if (skip_special_ && tokenizer_->is_special(id)) return "";
  pending_ += tokenizer_->token_bytes(id);
  std::string out;
  const size_t used = tokenizer_internal::utf8_append_lossy(pending_, /*final=*/false, &out);
  pending_.erase(0, used);
  return out;
}

std::string IncrementalDetokenizer::flush() {
  std::string out;
  tokenizer_internal::utf8_append_lossy(pending_, /*final=*/true, &out);
  pending_.clear();
  return out;
}

}  // namespace podserve
