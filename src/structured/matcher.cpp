#include "structured/matcher.h"

#include <algorithm>
#include <cstring>

namespace podserve::structured {

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)), parser_(&grammar_->automata()) {}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& other)
    : grammar_(other.grammar_), parser_(other.parser_), token_bytes_(other.token_bytes_), terminated_(other.terminated_) {}

bool GrammarMatcher::accept_token(int32_t token) {
  const TokenVocabulary& v = grammar_->vocab();
  if (terminated_ || token < 0 || token >= v.vocab_size()) return false;
  if (v.is_stop(token)) {
    if (!parser_.goal_complete()) return false;
    terminated_ = true;
    token_bytes_.push_back(0);
    return true;
  }
  if (static_cast<size_t>(token) >= v.num_tokens()) return false;  // padding past the tokenizer
  const std::string& bytes = v.bytes(token);
  if (bytes.empty()) return false;
  const size_t n = parser_.advance_bytes(bytes.data(), bytes.size());
  if (n < bytes.size()) {
    parser_.rollback(n);
    return false;
  }
  token_bytes_.push_back(static_cast<uint32_t>(bytes.size()));
  return true;
}

bool GrammarMatcher::accept_string(std::string_view bytes) {
  if (terminated_) return false;
  const size_t n = parser_.advance_bytes(bytes.data(), bytes.size());
  if (n < bytes.size()) {
    parser_.rollback(n);
    return false;
  }
  token_bytes_.push_back(static_cast<uint32_t>(bytes.size()));
  return true;
}

void GrammarMatcher::rollback(int num_tokens) {
  for (int i = 0; i < num_tokens && !token_bytes_.empty(); ++i) {
    const uint32_t n = token_bytes_.back();
    token_bytes_.pop_back();
    if (terminated_) {
      terminated_ = false;  // the stop token was the last one
      continue;
    }
    parser_.rollback(n);
  }
}

void GrammarMatcher::fill_next_token_bitmask(std::span<uint32_t> mask) {
  const TokenVocabulary& v = grammar_->vocab();
  const size_t words = v.mask_words();
  std::memset(mask.data(), 0, std::min(words, mask.size()) * sizeof(uint32_t));
  if (terminated_) return;
  const RuleAutomata& a = grammar_->automata();
  const auto k = static_cast<int32_t>(parser_.current_index());
  seen_states_.clear();
  uncertain_.clear();
  for (const EarleyParser::Item* it = parser_.current_begin(); it != parser_.current_end(); ++it) {
    const RuleAutomata::State& st = a.states[static_cast<size_t>(it->state)];
    // A rule start predicted here is covered by the item that predicted it (its state's split includes it).
    const bool predicted = it->origin == k && it->state == a.rule_start[static_cast<size_t>(st.rule)] &&
                           !(k == 0 && st.rule == a.root);
    if (predicted || st.edge_begin == st.edge_end) continue;
    if (std::find(seen_states_.begin(), seen_states_.end(), it->state) != seen_states_.end()) continue;
    seen_states_.push_back(it->state);
    const StateTokens* t = grammar_->state_tokens(it->state);
    if (t == nullptr) continue;
    if (!t->accepted_bits.empty()) {
      for (size_t w = 0; w < words; ++w) mask[w] |= t->accepted_bits[w];
    } else {
      for (int32_t id : t->accepted_ids) mask[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
    }
    uncertain_.insert(uncertain_.end(), t->uncertain.begin(), t->uncertain.end());
  }
  if (!uncertain_.empty()) {
    if (seen_states_.size() > 1) {
      std::sort(uncertain_.begin(), uncertain_.end());
      uncertain_.erase(std::unique(uncertain_.begin(), uncertain_.end()), uncertain_.end());
    }
    // Run the undecided tokens through the full parser, in trie order, sharing prefixes with the previous one.
    const auto sorted = v.sorted();
    size_t depth = 0;
    const std::string* prev = nullptr;
    for (int32_t index : uncertain_) {
      const int32_t id = sorted[static_cast<size_t>(index)];
      if ((mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1u) continue;
      const std::string& bytes = v.bytes(id);
      size_t common = 0;
      if (prev != nullptr) {
        const size_t limit = std::min({prev->size(), bytes.size(), depth});
        while (common < limit && (*prev)[common] == bytes[common]) ++common;
      }
      parser_.rollback(depth - common);
      depth = common + parser_.advance_bytes(bytes.data() + common, bytes.size() - common);
      prev = &bytes;
      if (depth == bytes.size()) mask[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
    }
    parser_.rollback(depth);
  }
  if (parser_.goal_complete()) {
    for (int32_t id : v.stop_tokens()) mask[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
  }
}

}  // namespace podserve::structured
