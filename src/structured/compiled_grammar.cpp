#include "structured/compiled_grammar.h"

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
  for (size_t s = 0; s < num_states; ++s) {
    const RuleAutomata::State& st = g->automata_.states[s];
    if (st.edge_begin == st.edge_end) continue;
    g->state_slot_[s] = static_cast<int32_t>(g->tokens_.size());
    g->tokens_.emplace_back();
  }
  for (size_t s = 0; s < num_states; ++s) {
    if (g->state_slot_[s] >= 0) g->precompute_state(static_cast<int32_t>(s), &g->tokens_[static_cast<size_t>(g->state_slot_[s])]);
  }
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
  const auto lcp = v.lcp();
  EarleyParser parser(&automata_);
  parser.reset_to_state(state);
  std::vector<bool> exited{false};  // exited[d]: the rule ended at some depth in 1..d
  std::vector<int32_t> accepted;
  const size_t n = sorted.size();
  for (size_t i = 0; i < n;) {
    const std::string& bytes = v.bytes(sorted[i]);
    const size_t base = i == 0 ? 0 : std::min<size_t>(lcp[i], parser.num_bytes());
    parser.rollback(parser.num_bytes() - base);
    exited.resize(base + 1);
    size_t d = base;
    bool dead = false;
    while (d < bytes.size()) {
      if (!parser.advance(static_cast<uint8_t>(bytes[d]))) {
        dead = true;
        break;
      }
      ++d;
      exited.push_back(exited.back() || parser.goal_complete());
    }
    if (!dead) {
      accepted.push_back(sorted[i]);
      ++i;
      continue;
    }
    // Every following token that shares the first d + 1 bytes dies at the same byte.
    const bool uncertain = exited[d];
    size_t j = i;
    do {
      if (uncertain) out->uncertain.push_back(static_cast<int32_t>(j));
      ++j;
    } while (j < n && lcp[j] > d);
    i = j;
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
