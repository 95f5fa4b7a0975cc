// Open-addressing hash tables for the BPE model's two big lookups (a 262k-token vocabulary, 500k merges for
// Gemma 3). They are built once per load and then only read, so a flat array of slots (one cache miss per probe,
// no allocation per entry) beats std::unordered_map by several times at load and at encode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::tokenizer_internal {

/// A fast non-cryptographic hash of a short byte string.
uint64_t hash_bytes(std::string_view s);

/// Token spelling -> id. The spellings are copied into one arena.
class TokenIndex {
 public:
  /// `tokens[id]` spells `id`; "" is no token. A repeated spelling maps to its last id. The spellings
  /// together must be under 4 GiB (BpeModel::create checks).
  explicit TokenIndex(const std::vector<std::string>& tokens);
  TokenIndex() = default;

  /// The id spelled exactly `text`, or -1.
  int32_t find(std::string_view text) const { return find(text, hash_bytes(text)); }
  /// The same with `hash` = hash_bytes(text) computed ahead, so that many lookups can prefetch their slots
  /// first (loading a big vocabulary is bound by memory latency, not by work).
  int32_t find(std::string_view text, uint64_t hash) const;
  void prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

 private:
  // A slot holds the spelling's length and first bytes, so most probes never touch the arena.
  static constexpr size_t kHeadBytes = 7;
  struct Slot {
    uint32_t offset;  // of the spelling in arena_
    int32_t id;       // -1: empty
    uint8_t length;   // min(length, 255)
    char head[kHeadBytes];  // the first bytes, zero-padded
  };
  static Slot probe_key(std::string_view text);
  bool matches(const Slot& s, const Slot& key, std::string_view text) const;
  std::string_view text_of(int32_t id) const {
    return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }

  std::string arena_;
  std::vector<size_t> offsets_;  // id's spelling is arena_[offsets_[id], offsets_[id + 1])
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

/// (left id, right id) -> (merge rank, merged id).
class MergeTable {
 public:
  struct Target {
    uint32_t rank;
    int32_t id;
  };
  /// Room for `n` pairs without growing.
  void reserve(size_t n);
  /// A repeated pair keeps the last value.
  void insert_or_assign(int32_t left, int32_t right, Target target);
  const Target* find(int32_t left, int32_t right) const;
  void prefetch(int32_t left, int32_t right) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[mix(key(left, right)) & mask_]);
  }
  static uint64_t mix(uint64_t h) {  // splitmix64's finalizer
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
  }

 private:
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // (-1, -1): never a pair of real ids
  struct Slot {
    uint64_t key;
    Target target;
  };
  size_t slot_of(uint64_t k) const;  // the slot holding `k`, or the empty slot where it would go

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace podserve::tokenizer_internal
