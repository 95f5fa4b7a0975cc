#include "engine/stop_checker.h"

#include <algorithm>

namespace podserve {

StopChecker::StopChecker(std::vector<std::string> stop, bool include_stop_str)
    : include_stop_str_(include_stop_str) {
  for (auto& s : stop) {
    if (!s.empty()) stop_.push_back(std::move(s));
  }
  for (const auto& s : stop_) overlap_ = std::max(overlap_, s.size() - 1);
  hold_back_ = include_stop_str_ ? 0 : overlap_;
}

std::string StopChecker::append(const std::string& text) {
  if (stopped()) return "";
  const size_t search_from = text_.size() > overlap_ ? text_.size() - overlap_ : 0;
  text_ += text;
  // The earliest match that ends in the new text wins.
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const auto& s : stop_) {
    const size_t pos = text_.find(s, search_from);
    if (pos != std::string::npos && pos < best) {
      best = pos;
      best_stop = &s;
    }
  }
  size_t end;
  if (best_stop != nullptr) {
    matched_ = *best_stop;
    end = include_stop_str_ ? best + best_stop->size() : best;
  } else {
    end = text_.size() > hold_back_ ? text_.size() - hold_back_ : 0;
    // Never split a UTF-8 character: back up over continuation bytes.
    while (end > emitted_ && end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) --end;
  }
  if (end <= emitted_) return "";
  std::string out = text_.substr(emitted_, end - emitted_);
  emitted_ = end;
  return out;
}

std::string StopChecker::flush() {
  if (stopped() || emitted_ >= text_.size()) return "";
  std::string out = text_.substr(emitted_);
  emitted_ = text_.size();
  return out;
}

}  // namespace podserve
