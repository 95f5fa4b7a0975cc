// IncrementalDetokenizer: HF's DecodeStream. Decoding a window that starts at the previous chunk's tokens
// keeps context-dependent decoders (SentencePiece's leading-space strip, byte fallback runs) consistent.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace podserve {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string IncrementalDetokenizer::push(int32_t id) {
  if (id < 0 || id >= tokenizer_->vocab_size()) return "";
  if (skip_special_ && tokenizer_->is_special(id)) return "";
  ids_.push_back(id);
  std::string text = tokenizer_->decode(ids_, skip_special_);
  const std::string_view fffd = tokenizer_internal::kReplacementChar;
  if (text.size() <= prefix_.size() || text.ends_with(fffd) || !text.starts_with(prefix_)) return "";
  std::string out = text.substr(prefix_.size());
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<ptrdiff_t>(prefix_count_));
  prefix_ = tokenizer_->decode(ids_, skip_special_);
  prefix_count_ = ids_.size();
  return out;
}

std::string IncrementalDetokenizer::flush() {
  std::string text = tokenizer_->decode(ids_, skip_special_);
  std::string out = text.size() > prefix_.size() && text.starts_with(prefix_) ? text.substr(prefix_.size()) : "";
  ids_.clear();
  prefix_.clear();
  prefix_count_ = 0;
  return out;
}

}  // namespace podserve
