#include "structured/compiled_grammar.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "structured/earley.h"

namespace podserve::structured {

namespace {

/// The one automaton state X such that the parser's current set has the future of a parser restarted at X
/// (reset_to_state(X)): the set's items are (X, outside) or tail calls (outside) to X's rule, plus what they
/// predicted here, plus dead items (no edges left). Then the rest of the trie below this point splits exactly as
/// it does below any other point with the same X (and the same "rule already ended" flag), whichever state the
/// walk started from. -1 when the set is not of that form.
int32_t mask_walk_future_state(const EarleyParser& parser) {
  const RuleAutomata& a = parser.automata();
  const auto k = static_cast<int32_t>(parser.current_index());
  int32_t live = -1;       // the one (X, outside) item with edges other than tail calls
  int32_t tail_rule = -1;  // the rule every tail call calls
  for (const EarleyParser::Item* it = parser.current_begin(); it != parser.current_end(); ++it) {
    if (it->origin == k) continue;  // predicted here: part of the closure of what the others call
    const RuleAutomata::State& st = a.states[static_cast<size_t>(it->state)];
    if (st.edge_begin == st.edge_end) continue;  // dead: completed already, reads nothing more
    if (it->origin != EarleyParser::kOutside) return -1;
    bool tail_calls_only = !st.has_byte_edges;
    for (uint32_t e = st.edge_begin; e < st.edge_end && tail_calls_only; ++e) {
      const RuleAutomata::Edge& edge = a.edges[e];
      const RuleAutomata::State& after = a.states[static_cast<size_t>(edge.target)];
      tail_calls_only = edge.rule >= 0 && after.final && after.edge_begin == after.edge_end &&
                        (tail_rule < 0 || edge.rule == tail_rule);
      if (tail_calls_only) tail_rule = edge.rule;
    }
    if (tail_calls_only) continue;
    if (live >= 0) return -1;
    live = it->state;
  }
  if (live >= 0) return tail_rule < 0 ? live : -1;
  return tail_rule < 0 ? -1 : a.rule_start[static_cast<size_t>(tail_rule)];
}

}  // namespace

/// Subtree splits already computed, keyed by (trie node, future state's slot, rule ended): ranges of an earlier walk's
/// output (accepted list and uncertain list of a slot), which walks append to contiguously in trie order.
/// Free text (xgrammar's TagDispatch: one rule per trigger-prefix state, each tail-calling the next) makes
/// every state's walk continue in the same few states after one byte, so all but the first walk reuse it.
struct CompiledGrammar::SubtreeMemo {
  struct Range {
    int32_t slot;
    uint32_t accepted_begin, accepted_end, uncertain_begin, uncertain_end;
  };
  std::unordered_map<uint64_t, Range> ranges;
  static uint64_t key(int32_t node, int32_t state, bool exited) {
    return (static_cast<uint64_t>(node) << 33) | (static_cast<uint64_t>(state) << 1) | (exited ? 1u : 0u);
  }
};

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
  SubtreeMemo memo;
  std::vector<std::vector<int32_t>> accepted(g->tokens_.size());
  for (size_t slot = 0; slot < g->tokens_.size(); ++slot) {
    g->precompute_state(first_state[slot], static_cast<int32_t>(slot), &memo, &accepted, &g->tokens_[slot]);
  }
  const size_t words = g->vocab_->mask_words();
  for (size_t slot = 0; slot < g->tokens_.size(); ++slot) {
    StateTokens& out = g->tokens_[slot];
    if (accepted[slot].size() > words) {
      out.accepted_bits.assign(words, 0);
      for (int32_t id : accepted[slot]) out.accepted_bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
    } else {
      out.accepted_ids = accepted[slot];
    }
  }
  g->memory_bytes_ = sizeof(CompiledGrammar) + g->automata_.memory_bytes() + g->state_slot_.size() * 4;
  for (const StateTokens& t : g->tokens_) g->memory_bytes_ += t.memory_bytes();
  return std::shared_ptr<const CompiledGrammar>(std::move(g));
}

const StateTokens* CompiledGrammar::state_tokens(int32_t state) const {
  const int32_t slot = state_slot_[static_cast<size_t>(state)];
  return slot < 0 ? nullptr : &tokens_[static_cast<size_t>(slot)];
}

void CompiledGrammar::precompute_state(int32_t state, int32_t slot, SubtreeMemo* memo,
                                       std::vector<std::vector<int32_t>>* accepted_of, StateTokens* out) const {
  const TokenVocabulary& v = *vocab_;
  const auto sorted = v.sorted();
  const auto trie = v.trie();
  const auto children = v.children();
  EarleyParser parser(&automata_);
  parser.reset_to_state(state);
  std::vector<int32_t>& accepted = (*accepted_of)[static_cast<size_t>(slot)];
  std::vector<int32_t>& uncertain = out->uncertain;
  // Depth-first over the trie. A child whose byte no item can read is decided as a whole: uncertain when the
  // rule has already ended on the way here (the bytes left may belong to what follows the rule), else rejected.
  struct Frame {
    int32_t node;
    uint32_t next_child;
    bool exited;  // the rule ended at some depth in 1..this one
    uint64_t bytes[4];
    uint64_t memo_key;  // where this subtree's split is recorded when done, or kNoKey
    uint32_t accepted_begin, uncertain_begin;
  };
  constexpr uint64_t kNoKey = ~uint64_t{0};
  std::vector<Frame> stack;
  auto push = [&](int32_t node, bool exited, uint64_t memo_key) {
    Frame f{node, trie[static_cast<size_t>(node)].child_begin, exited, {}, memo_key,
            static_cast<uint32_t>(accepted.size()), static_cast<uint32_t>(uncertain.size())};
    parser.next_bytes(f.bytes);
    const TokenVocabulary::TrieNode& n = trie[static_cast<size_t>(node)];
    for (int32_t i = n.first; i < n.exact_end; ++i) accepted.push_back(sorted[static_cast<size_t>(i)]);
    stack.push_back(f);
  };
  push(0, false, kNoKey);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const TokenVocabulary::TrieNode& node = trie[static_cast<size_t>(f.node)];
    if (f.next_child == node.child_end) {
      if (f.memo_key != kNoKey) {
        memo->ranges.emplace(f.memo_key, SubtreeMemo::Range{slot, f.accepted_begin, static_cast<uint32_t>(accepted.size()),
                                                            f.uncertain_begin, static_cast<uint32_t>(uncertain.size())});
      }
      stack.pop_back();
      if (!stack.empty()) parser.rollback(1);
      continue;
    }
    const TokenVocabulary::TrieChild& c = children[f.next_child++];
    if (((f.bytes[c.byte >> 6] >> (c.byte & 63)) & 1u) == 0) {
      if (f.exited) {
        const TokenVocabulary::TrieNode& child = trie[static_cast<size_t>(c.node)];
        for (int32_t i = child.first; i < child.end; ++i) uncertain.push_back(i);
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
    const bool exited = f.exited || parser.goal_complete();
    uint64_t key = kNoKey;
    // Only one byte in: past that, the subtrees are small and their keys rarely recur, so the bookkeeping
    // would cost more than it saves (measured on the JSON-schema grammars).
    const int32_t future = stack.size() == 1 ? mask_walk_future_state(parser) : -1;
    if (future >= 0) {
      // States sharing a split have the same future (a loop's entry and body; a tail call and its callee).
      const int32_t future_slot = state_slot_[static_cast<size_t>(future)];
      key = SubtreeMemo::key(c.node, future_slot >= 0 ? future_slot : static_cast<int32_t>(tokens_.size()) + future,
                             exited);
      if (auto hit = memo->ranges.find(key); hit != memo->ranges.end()) {
        const SubtreeMemo::Range& r = hit->second;
        const std::vector<int32_t>& from_accepted = (*accepted_of)[static_cast<size_t>(r.slot)];
        const std::vector<int32_t>& from_uncertain = tokens_[static_cast<size_t>(r.slot)].uncertain;
        // Copied through a temporary: the source may be this walk's own vectors, which insert may reallocate.
        const std::vector<int32_t> acc(from_accepted.begin() + r.accepted_begin, from_accepted.begin() + r.accepted_end);
        const std::vector<int32_t> unc(from_uncertain.begin() + r.uncertain_begin, from_uncertain.begin() + r.uncertain_end);
        accepted.insert(accepted.end(), acc.begin(), acc.end());
        uncertain.insert(uncertain.end(), unc.begin(), unc.end());
        parser.rollback(1);
        continue;
      }
    }
    push(c.node, exited, key);
  }
}

}  // namespace podserve::structured
