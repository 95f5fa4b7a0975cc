#include "structured/compiled_grammar.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "structured/earley.h"

namespace podserve::structured {

Result<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::compile(Grammar grammar,
                                                                       std::shared_ptr<const TokenVocabulary> vocab) {
  PODSERVE_ASSIGN_OR_RETURN(RuleAutomata automata, build_automata(grammar));
  auto g = std::shared_ptr<CompiledGrammar>(new CompiledGrammar());
  g->grammar_ = std::move(grammar);
  g->automata_ = std::move(automata);
  g->vocab_ = std::move(vocab);
  const size_t num_states = g->automata_.states.size();
  g->state_slot_.assign(num_states, -1);
  // States of one rule with the same finality and the same edges (same targets) have the same future, so
  // the same token split: computed once (epsilon removal leaves such twins, e.g. a loop's entry and body).
  std::map<std::tuple<int32_t, bool, std::vector<std::tuple<uint8_t, uint8_t, int32_t, int32_t>>>, int32_t> slots;
  std::vector<int32_t> first_state;
  std::vector<std::pair<int32_t, int32_t>> aliases;  // (state, the state whose split it shares)
  for (size_t s = 0; s < num_states; ++s) {
    const RuleAutomata::State& st = g->automata_.states[s];
    if (st.edge_begin == st.edge_end) continue;
    std::vector<std::tuple<uint8_t, uint8_t, int32_t, int32_t>> edges;
    for (uint32_t e = st.edge_begin; e < st.edge_end; ++e) {
      const RuleAutomata::Edge& ed = g->automata_.edges[e];
      edges.emplace_back(ed.lo, ed.hi, ed.rule, ed.target);
    }
    std::sort(edges.begin(), edges.end());
    // A state whose only edge calls a rule and then ends its own (`s ::= ... Q`): its split is Q's start's.
    if (edges.size() == 1 && std::get<2>(edges[0]) >= 0) {
      const RuleAutomata::State& after = g->automata_.states[static_cast<size_t>(std::get<3>(edges[0]))];
      if (after.final && after.edge_begin == after.edge_end) {
        aliases.emplace_back(static_cast<int32_t>(s), g->automata_.rule_start[static_cast<size_t>(std::get<2>(edges[0]))]);
        continue;
      }
    }
    auto [it, inserted] = slots.emplace(std::make_tuple(st.rule, st.final, std::move(edges)),
                                        static_cast<int32_t>(g->tokens_.size()));
    if (inserted) {
      g->tokens_.emplace_back();
      first_state.push_back(static_cast<int32_t>(s));
    }
    g->state_slot_[s] = it->second;
  }
  // Aliases resolve in chains (`a ::= b`, `b ::= c`), ending at a state with a slot; a cycle of pure calls
  // (a rule that derives only itself) gets a slot of its own.
  for (size_t round = 0; round <= aliases.size(); ++round) {
    bool changed = false;
    for (const auto& [state, target] : aliases) {
      if (g->state_slot_[static_cast<size_t>(state)] < 0 && g->state_slot_[static_cast<size_t>(target)] >= 0) {
        g->state_slot_[static_cast<size_t>(state)] = g->state_slot_[static_cast<size_t>(target)];
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (const auto& [state, target] : aliases) {
    if (g->state_slot_[static_cast<size_t>(state)] >= 0) continue;
    g->state_slot_[static_cast<size_t>(state)] = static_cast<int32_t>(g->tokens_.size());
    g->tokens_.emplace_back();
    first_state.push_back(state);
  }
  for (size_t slot = 0; slot < g->tokens_.size(); ++slot) g->precompute_state(first_state[slot], &g->tokens_[slot]);
  g->memory_bytes_ = sizeof(CompiledGrammar) + g->automata_.memory_bytes() + g->state_slot_.size() * 4;
  for (const StateTokens& t : g->tokens_) g->memory_bytes_ += t.memory_bytes();
  return std::shared_ptr<const CompiledGrammar>(std::move(g));
}

const StateTokens* CompiledGrammar::state_tokens(int32_t state) const {
  const int32_t slot = state_slot_[static_cast<size_t>(state)];
  return slot < 0 ? nullptr : &tokens_[static_cast<size_t>(slot)];
}

void CompiledGrammar::precompute_state(int32_t state, StateTokens* out) const {
  const TokenVocabulary& v = *vocab_;
  const auto sorted = v.sorted();
  const auto trie = v.trie();
  const auto children = v.children();
  EarleyParser parser(&automata_);
  parser.reset_to_state(state);
  std::vector<int32_t> accepted;
  // Depth-first over the trie. A child whose byte no item can read is decided as a whole: uncertain when the
  // rule has already ended on the way here (the bytes left may belong to what follows the rule), else rejected.
  struct Frame {
    int32_t node;
    uint32_t next_child;
    bool exited;  // the rule ended at some depth in 1..this one
    uint64_t bytes[4];
  };
  std::vector<Frame> stack;
  auto push = [&](int32_t node, bool exited) {
    Frame f{node, trie[static_cast<size_t>(node)].child_begin, exited, {}};
    parser.next_bytes(f.bytes);
    const TokenVocabulary::TrieNode& n = trie[static_cast<size_t>(node)];
    for (int32_t i = n.first; i < n.exact_end; ++i) accepted.push_back(sorted[static_cast<size_t>(i)]);
    stack.push_back(f);
  };
  push(0, false);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const TokenVocabulary::TrieNode& node = trie[static_cast<size_t>(f.node)];
    if (f.next_child == node.child_end) {
      stack.pop_back();
      if (!stack.empty()) parser.rollback(1);
      continue;
    }
    const TokenVocabulary::TrieChild& c = children[f.next_child++];
    if (((f.bytes[c.byte >> 6] >> (c.byte & 63)) & 1u) == 0) {
      if (f.exited) {
        const TokenVocabulary::TrieNode& child = trie[static_cast<size_t>(c.node)];
        for (int32_t i = child.first; i < child.end; ++i) out->uncertain.push_back(i);
      }
      continue;
    }
    const TokenVocabulary::TrieNode& child = trie[static_cast<size_t>(c.node)];
    if (child.child_begin == child.child_end) {
      // A leaf (most nodes): some item reads its last byte (the bit above), so its tokens are accepted; nothing
      // below needs the parser's state, so the byte is not even advanced over (the Earley step was most of the
      // cost of free-text states, which accept nearly every token).
      for (int32_t i = child.first; i < child.exact_end; ++i) accepted.push_back(sorted[static_cast<size_t>(i)]);
      continue;
    }
    parser.advance(c.byte);  // succeeds: some item reads this byte
    push(c.node, f.exited || parser.goal_complete());
  }
  const size_t words = v.mask_words();
  if (accepted.size() > words) {
    out->accepted_bits.assign(words, 0);
    for (int32_t id : accepted) out->accepted_bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
  } else {
    out->accepted_ids = std::move(accepted);
  }
}

}  // namespace podserve::structured
