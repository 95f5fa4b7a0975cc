#include "tokenizer/flat_tables.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace podserve::tokenizer_internal {
namespace {

// A power of two over 1.5 `n`: the load factor stays under 2/3, where linear probing is still short.
size_t table_size(size_t n) { return std::bit_ceil(std::max<size_t>(16, n + n / 2 + 1)); }

}  // namespace

uint64_t hash_bytes(std::string_view s) {
  const auto mix = MergeTable::mix;
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix(h ^ w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return mix(h ^ tail);
}

TokenIndex::Slot TokenIndex::probe_key(std::string_view text) {
  Slot key{0, 0, static_cast<uint8_t>(std::min<size_t>(text.size(), 255)), {}};
  std::memcpy(key.head, text.data(), std::min(text.size(), kHeadBytes));
  return key;
}

bool TokenIndex::matches(const Slot& s, const Slot& key, std::string_view text) const {
  if (s.length != key.length || std::memcmp(s.head, key.head, kHeadBytes) != 0) return false;
  if (text.size() <= kHeadBytes) return true;
  if (text.size() < 255) {
    return std::memcmp(arena_.data() + s.offset + kHeadBytes, text.data() + kHeadBytes, text.size() - kHeadBytes) == 0;
  }
  return text_of(s.id) == text;
}

TokenIndex::TokenIndex(const std::vector<std::string>& tokens) {
  size_t bytes = 0;
  for (const std::string& t : tokens) bytes += t.size();
  arena_.reserve(bytes);
  offsets_.reserve(tokens.size() + 1);
  offsets_.push_back(0);
  for (const std::string& t : tokens) {
    arena_ += t;
    offsets_.push_back(arena_.size());
  }
  slots_.assign(table_size(tokens.size()), Slot{0, -1, 0, {}});
  mask_ = slots_.size() - 1;
  std::vector<uint64_t> hashes(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) hashes[id] = hash_bytes(tokens[id]);
  constexpr size_t kAhead = 16;
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (id + kAhead < tokens.size()) prefetch(hashes[id + kAhead]);
    const std::string& text = tokens[id];
    if (text.empty()) continue;
    Slot key = probe_key(text);
    key.offset = static_cast<uint32_t>(offsets_[id]);
    key.id = static_cast<int32_t>(id);
    for (uint64_t i = hashes[id] & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0 || matches(s, key, text)) {
        s = key;
        break;
      }
    }
  }
}

int32_t TokenIndex::find(std::string_view text, uint64_t hash) const {
  if (slots_.empty() || text.empty()) return -1;
  const Slot key = probe_key(text);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (matches(s, key, text)) return s.id;
  }
}

void MergeTable::reserve(size_t n) {
  if (table_size(n) <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(table_size(n), Slot{kEmpty, {}});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key != kEmpty) slots_[slot_of(s.key)] = s;
  }
}

size_t MergeTable::slot_of(uint64_t k) const {
  for (uint64_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].key == k || slots_[i].key == kEmpty) return i;
  }
}

void MergeTable::insert_or_assign(int32_t left, int32_t right, Target target) {
  if (3 * (size_ + 1) > 2 * slots_.size()) reserve(2 * (size_ + 1));
  const uint64_t k = key(left, right);
  Slot& s = slots_[slot_of(k)];
  if (s.key == kEmpty) ++size_;
  s = Slot{k, target};
}

const MergeTable::Target* MergeTable::find(int32_t left, int32_t right) const {
  const uint64_t k = key(left, right);
  if (slots_.empty() || k == kEmpty) return nullptr;
  const Slot& s = slots_[slot_of(k)];
  return s.key == k ? &s.target : nullptr;
}

}  // namespace podserve::tokenizer_internal
