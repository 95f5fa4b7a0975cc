// Grammar IR -> one epsilon-free byte automaton per rule, the form the Earley matcher runs on (XGrammar-2's
// "Earley parser over per-rule FSMs"). Edges read a byte range or a whole rule (a reference). Character classes
// become UTF-8 byte paths (shortest form up to U+10FFFF, surrogates included, as xgrammar accepts). A rule that
// ends by calling itself (`r ::= x r | y`) is turned into a loop, so the matcher's item sets stay small on long
// strings instead of growing one level per character.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "structured/grammar.h"

namespace podserve::structured {

/// Caps the automaton size (bounded repetitions are expanded): past it the grammar is refused.
inline constexpr size_t kMaxAutomatonEdges = 4u << 20;

struct RuleAutomata {
  struct Edge {
    uint8_t lo = 0, hi = 0;  // byte edges: the inclusive byte range
    int32_t rule = -1;       // >= 0: a rule edge, reading one complete derivation of that rule
    int32_t target = 0;
  };
  struct State {
    uint32_t edge_begin = 0, edge_end = 0;
    int32_t rule = 0;        // the rule this state belongs to
    bool final = false;      // the rule may end here
    bool has_byte_edges = false;
  };
  std::vector<State> states;
  /// Per state, the bytes its byte edges read (bit b of word b / 64): the set of next bytes is the union
  /// over the current items' states.
  std::vector<std::array<uint64_t, 4>> state_bytes;
  /// Per state: not final and without rule edges (an item there needs no prediction or completion).
  std::vector<bool> simple_state;
  std::vector<Edge> edges;           // grouped by source state
  std::vector<int32_t> rule_start;   // per rule
  std::vector<bool> rule_nullable;   // per rule: derives the empty string
  int32_t root = 0;

  size_t memory_bytes() const {
    return states.size() * (sizeof(State) + 32) + edges.size() * sizeof(Edge) + rule_start.size() * 5;
  }
};

/// Builds the automata; fails (InvalidArgument) when the grammar is too large once expanded.
Result<RuleAutomata> build_automata(const Grammar& grammar);

/// The byte-range sequences that encode the code points of a class (for tests and the builder).
std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_sequences(const std::vector<CodepointRange>& ranges,
                                                                     bool negated);

}  // namespace podserve::structured
