#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace podserve::tokenizer_internal {

void SpecialTokenMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  auto& bucket = by_first_byte_[static_cast<uint8_t>(text[0])];
  // Keep longest first (stable for equal lengths, so the first registered spelling wins a tie).
  const auto at = std::find_if(bucket.begin(), bucket.end(), [&](const Entry& e) { return e.text.size() < text.size(); });
  bucket.insert(at, Entry{std::string(text), id});
  ++count_;
}

void SpecialTokenMatcher::split(std::string_view text, std::vector<Segment>* out) const {
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const Entry* hit = nullptr;
    for (const Entry& e : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if (text.substr(pos, e.text.size()) == e.text) {
        hit = &e;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    if (pos > plain_start) out->push_back({text.substr(plain_start, pos - plain_start), -1});
    out->push_back({text.substr(pos, hit->text.size()), hit->id});
    pos += hit->text.size();
    plain_start = pos;
  }
  if (plain_start < text.size()) out->push_back({text.substr(plain_start), -1});
}

}  // namespace podserve::tokenizer_internal
