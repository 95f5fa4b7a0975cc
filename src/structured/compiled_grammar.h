// A grammar compiled against one vocabulary: its automata plus, for every automaton state, the tokens that can
// be decided from that state's rule alone (xgrammar's adaptive token mask cache). A token is *accepted* when the
// rule can read all its bytes, *rejected* when the rule dies on it without having ended, and *uncertain* when
// the rule ends inside the token, so that the rest depends on the rules below it on the stack; only uncertain
// tokens are run through the full parser at each step. Immutable once built; shared by every matcher using it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "structured/automaton.h"
#include "structured/grammar.h"
#include "structured/token_vocab.h"

namespace podserve::structured {

/// The precomputed token split of one automaton state.
struct StateTokens {
  std::vector<int32_t> accepted_ids;     // sparse form (token ids), or
  std::vector<uint32_t> accepted_bits;   // dense form (mask words), whichever is smaller
  std::vector<int32_t> uncertain;        // indices into TokenVocabulary::sorted(), ascending
  size_t memory_bytes() const {
    return accepted_ids.size() * 4 + accepted_bits.size() * 4 + uncertain.size() * 4 + sizeof(StateTokens);
  }
};

class CompiledGrammar {
 public:
  static Result<std::shared_ptr<const CompiledGrammar>> compile(Grammar grammar,
                                                                std::shared_ptr<const TokenVocabulary> vocab);

  const Grammar& grammar() const { return grammar_; }
  const RuleAutomata& automata() const { return automata_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  /// The token split of `state`; nullptr for states without edges.
  const StateTokens* state_tokens(int32_t state) const;
  size_t memory_bytes() const { return memory_bytes_; }

 private:
  CompiledGrammar() = default;
  struct SubtreeMemo;
  /// Appends the split of `state` to `accepted` (token ids) and out->uncertain; `slot` is out's index.
  void precompute_state(int32_t state, int32_t slot, SubtreeMemo* memo, std::vector<std::vector<int32_t>>* accepted,
                        StateTokens* out) const;

  Grammar grammar_;
  RuleAutomata automata_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  std::vector<int32_t> state_slot_;       // state -> index into tokens_, or -1
  std::vector<StateTokens> tokens_;
  size_t memory_bytes_ = 0;
};

}  // namespace podserve::structured
