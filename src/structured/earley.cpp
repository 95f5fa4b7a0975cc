#include "structured/earley.h"

namespace podserve::structured {

EarleyParser::EarleyParser(const RuleAutomata* automata) : a_(automata) { reset(); }

void EarleyParser::reset() {
  items_.clear();
  set_begin_.assign({0, 0});
  goal_complete_.clear();
  goal_rule_ = a_->root;
  goal_origin_ = 0;
  add({a_->rule_start[static_cast<size_t>(a_->root)], 0});
  close_last_set();
  goal_complete_.push_back(false);
  for (const Item* it = current_begin(); it != current_end(); ++it) {
    const auto& st = a_->states[static_cast<size_t>(it->state)];
    if (st.final && st.rule == goal_rule_ && it->origin == 0) goal_complete_.back() = true;
  }
}

void EarleyParser::reset_to_state(int32_t state) {
  items_.clear();
  set_begin_.assign({0, 0});
  goal_complete_.clear();
  goal_rule_ = a_->states[static_cast<size_t>(state)].rule;
  goal_origin_ = kOutside;
  add({state, kOutside});
  close_last_set();
  // Completing at depth 0 means "the start state was already final": not a byte-driven exit.
  goal_complete_.push_back(false);
}

bool EarleyParser::add(Item item) {
  const uint32_t begin = set_begin_[set_begin_.size() - 2];
  for (size_t i = begin; i < items_.size(); ++i) {
    if (items_[i] == item) return false;
  }
  items_.push_back(item);
  set_begin_.back() = static_cast<uint32_t>(items_.size());
  return true;
}

void EarleyParser::close_last_set() {
  const auto k = static_cast<int32_t>(set_begin_.size() - 2);
  for (size_t i = set_begin_[static_cast<size_t>(k)]; i < items_.size(); ++i) {
    const Item item = items_[i];
    const RuleAutomata::State& st = a_->states[static_cast<size_t>(item.state)];
    for (uint32_t e = st.edge_begin; e < st.edge_end; ++e) {
      const RuleAutomata::Edge& edge = a_->edges[e];
      if (edge.rule < 0) continue;
      add({a_->rule_start[static_cast<size_t>(edge.rule)], k});
      if (a_->rule_nullable[static_cast<size_t>(edge.rule)]) add({edge.target, item.origin});
    }
    if (!st.final || item.origin == k || item.origin == kOutside) continue;
    // Complete: advance the items of the origin set that wait for this rule.
    const uint32_t ob = set_begin_[static_cast<size_t>(item.origin)], oe = set_begin_[static_cast<size_t>(item.origin) + 1];
    for (uint32_t j = ob; j < oe; ++j) {
      const Item parent = items_[j];
      const RuleAutomata::State& ps = a_->states[static_cast<size_t>(parent.state)];
      for (uint32_t e = ps.edge_begin; e < ps.edge_end; ++e) {
        const RuleAutomata::Edge& edge = a_->edges[e];
        if (edge.rule == st.rule) add({edge.target, parent.origin});
      }
    }
  }
}

bool EarleyParser::advance(uint8_t byte) {
  const uint32_t begin = set_begin_[set_begin_.size() - 2], end = set_begin_.back();
  if (end - begin == 1) {
    // Fast path (string contents, literals): one item, one byte edge to a state that neither predicts nor ends
    // its rule, so the new set is that one item and needs no closing.
    const Item item = items_[begin];
    const RuleAutomata::State& st = a_->states[static_cast<size_t>(item.state)];
    int32_t target = -1;
    int matches = 0;
    for (uint32_t e = st.edge_begin; e < st.edge_end && matches < 2; ++e) {
      const RuleAutomata::Edge& edge = a_->edges[e];
      if (edge.rule < 0 && byte >= edge.lo && byte <= edge.hi) {
        target = edge.target;
        ++matches;
      }
    }
    if (matches == 0) return false;
    if (matches == 1 && a_->simple_state[static_cast<size_t>(target)]) {
      items_.push_back({target, item.origin});
      set_begin_.push_back(static_cast<uint32_t>(items_.size()));
      goal_complete_.push_back(false);
      return true;
    }
  }
  set_begin_.push_back(end);
  for (uint32_t i = begin; i < end; ++i) {
    const Item item = items_[i];
    const RuleAutomata::State& st = a_->states[static_cast<size_t>(item.state)];
    if (!st.has_byte_edges) continue;
    for (uint32_t e = st.edge_begin; e < st.edge_end; ++e) {
      const RuleAutomata::Edge& edge = a_->edges[e];
      if (edge.rule < 0 && byte >= edge.lo && byte <= edge.hi) add({edge.target, item.origin});
    }
  }
  if (items_.size() == end) {
    set_begin_.pop_back();
    return false;
  }
  close_last_set();
  bool complete = false;
  const auto k = static_cast<int32_t>(set_begin_.size() - 2);
  for (size_t i = set_begin_[static_cast<size_t>(k)]; i < items_.size(); ++i) {
    const RuleAutomata::State& st = a_->states[static_cast<size_t>(items_[i].state)];
    if (st.final && items_[i].origin == goal_origin_ && st.rule == goal_rule_) {
      complete = true;
      break;
    }
  }
  goal_complete_.push_back(complete);
  return true;
}

void EarleyParser::next_bytes(uint64_t (&out)[4]) const {
  out[0] = out[1] = out[2] = out[3] = 0;
  for (const Item* it = current_begin(); it != current_end(); ++it) {
    const auto& bytes = a_->state_bytes[static_cast<size_t>(it->state)];
    for (int w = 0; w < 4; ++w) out[w] |= bytes[static_cast<size_t>(w)];
  }
}

size_t EarleyParser::advance_bytes(const char* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (!advance(static_cast<uint8_t>(data[i]))) return i;
  }
  return size;
}

void EarleyParser::rollback(size_t n) {
  for (size_t i = 0; i < n && set_begin_.size() > 2; ++i) {
    set_begin_.pop_back();
    goal_complete_.pop_back();
  }
  items_.resize(set_begin_.back());
}

}  // namespace podserve::structured
