// An Earley parser over the per-rule byte automata, fed one byte at a time. Each accepted byte appends an item
// set; rollback pops sets, so trying a token and undoing it is cheap (the mask walk does this all the time).
// Items are (automaton state, origin set); predictions and completions close each set, nullable rules are
// advanced over at prediction time (Aycock-Horspool), so completions never look at the set being built.
#pragma once

#include <cstdint>
#include <vector>

#include "structured/automaton.h"

namespace podserve::structured {

class EarleyParser {
 public:
  struct Item {
    int32_t state;
    int32_t origin;
    bool operator==(const Item&) const = default;
  };

  /// A parser at the start of `automata`'s root rule.
  explicit EarleyParser(const RuleAutomata* automata);

  /// Restarts at the root rule.
  void reset();
  /// Restarts inside one rule: set 0 is the closure of (state, kOutside). goal_complete() then tells whether
  /// that rule has ended at the current position: what the mask cache calls leaving the rule. The start item's
  /// origin lies before set 0, so its completion advances nothing here (an item of set 0 that waits for the
  /// same rule waits for a derivation starting at 0, not for this one).
  void reset_to_state(int32_t state);
  static constexpr int32_t kOutside = -1;

  /// Feeds one byte; false (and nothing changes) when no item can read it.
  bool advance(uint8_t byte);
  /// Feeds bytes until one is rejected; returns how many were accepted.
  size_t advance_bytes(const char* data, size_t size);
  /// The bytes some item of the current set can read (bit b of word b / 64).
  void next_bytes(uint64_t (&out)[4]) const;
  /// Drops the last `n` bytes (n <= num_bytes()).
  void rollback(size_t n);
  size_t num_bytes() const { return set_begin_.size() - 2; }

  /// The goal rule (root, or the rule of reset_to_state) has a complete derivation from origin 0 ending here.
  bool goal_complete() const { return goal_complete_.back(); }
  /// Whether the goal completed at byte position `depth` (0..num_bytes()).
  bool goal_complete_at(size_t depth) const { return goal_complete_[depth]; }

  /// The items of the current set.
  const Item* current_begin() const { return items_.data() + set_begin_[set_begin_.size() - 2]; }
  const Item* current_end() const { return items_.data() + items_.size(); }
  size_t current_index() const { return set_begin_.size() - 2; }
  const RuleAutomata& automata() const { return *a_; }

 private:
  bool add(Item item);
  /// Predicts and completes the items of the last set until nothing new appears.
  void close_last_set();

  const RuleAutomata* a_;
  int32_t goal_rule_ = 0;
  int32_t goal_origin_ = 0;  // 0 for the root, kOutside inside a rule
  std::vector<Item> items_;
  std::vector<uint32_t> set_begin_;  // set k = items_[set_begin_[k], set_begin_[k + 1]); the last entry = end
  std::vector<bool> goal_complete_;  // per set
};

}  // namespace podserve::structured
