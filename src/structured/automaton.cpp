#include "structured/automaton.h"
#include "structured/ebnf_text.h"  // kMaxCodepoint

#include <algorithm>
#include <array>

namespace podserve::structured {
namespace {


using ByteSeq = std::vector<std::pair<uint8_t, uint8_t>>;

/// Splits [lo, hi] (all of one encoded length n) into byte-range sequences; `lead` is the prefix of the first
/// byte (0 for n == 1, 0xC0/0xE0/0xF0 otherwise) and `bits` the code point bits left below the first byte.
void split_range(uint32_t lo, uint32_t hi, int n, ByteSeq prefix, std::vector<ByteSeq>* out) {
  if (n == 0) {
    out->push_back(std::move(prefix));
    return;
  }
  const bool first = prefix.empty();
  const int total = static_cast<int>(prefix.size()) + n;  // the full encoded length
  const int rest_bits = 6 * (n - 1);
  const uint32_t rest_mask = (1u << rest_bits) - 1;
  auto byte_of = [&](uint32_t digit) -> uint8_t {
    if (!first) return static_cast<uint8_t>(0x80 | digit);
    switch (total) {
      case 1: return static_cast<uint8_t>(digit);
      case 2: return static_cast<uint8_t>(0xC0 | digit);
      case 3: return static_cast<uint8_t>(0xE0 | digit);
      default: return static_cast<uint8_t>(0xF0 | digit);
    }
  };
  uint32_t lo_head = lo >> rest_bits, hi_head = hi >> rest_bits;
  auto with = [&](uint32_t a, uint32_t b) {
    ByteSeq p = prefix;
    p.emplace_back(byte_of(a), byte_of(b));
    return p;
  };
  if (lo_head == hi_head) {
    split_range(lo & rest_mask, hi & rest_mask, n - 1, with(lo_head, lo_head), out);
    return;
  }
  if ((lo & rest_mask) != 0) {
    split_range(lo & rest_mask, rest_mask, n - 1, with(lo_head, lo_head), out);
    ++lo_head;
  }
  const bool hi_partial = (hi & rest_mask) != rest_mask;
  const uint32_t hi_full = hi_partial ? hi_head - 1 : hi_head;
  if (lo_head <= hi_full && !(hi_partial && hi_head == 0)) {
    split_range(0, rest_mask, n - 1, with(lo_head, hi_full), out);
  }
  if (hi_partial) split_range(0, hi & rest_mask, n - 1, with(hi_head, hi_head), out);
}

/// Thompson construction with epsilon edges, per rule; converted to epsilon-free automata afterwards.
struct NfaBuilder {
  struct BEdge {
    uint8_t lo, hi;
    int32_t rule;
    int32_t target;
  };
  std::vector<std::vector<BEdge>> out;
  std::vector<std::vector<int32_t>> eps;
  size_t edge_count = 0;
  bool too_large = false;

  int32_t new_state() {
    out.emplace_back();
    eps.emplace_back();
    return static_cast<int32_t>(out.size() - 1);
  }
  void add(int32_t from, BEdge e) {
    if (++edge_count > kMaxAutomatonEdges) too_large = true;
    out[static_cast<size_t>(from)].push_back(e);
  }
  void add_eps(int32_t from, int32_t to) {
    if (++edge_count > kMaxAutomatonEdges) too_large = true;
    eps[static_cast<size_t>(from)].push_back(to);
  }

  /// Adds the paths of `e` from `from`; returns the end state.
  int32_t build(const GrammarExpr& e, int32_t from) {
    if (too_large) return from;
    switch (e.kind) {
      case GrammarExpr::Kind::kEmpty: return from;
      case GrammarExpr::Kind::kBytes: {
        int32_t cur = from;
        for (char c : e.bytes) {
          const int32_t next = new_state();
          const auto b = static_cast<uint8_t>(c);
          add(cur, {b, b, -1, next});
          cur = next;
        }
        return cur;
      }
      case GrammarExpr::Kind::kCharClass: {
        const int32_t end = new_state();
        for (const ByteSeq& seq : utf8_sequences(e.ranges, e.negated)) {
          int32_t cur = from;
          for (size_t i = 0; i < seq.size(); ++i) {
            const int32_t next = i + 1 == seq.size() ? end : new_state();
            add(cur, {seq[i].first, seq[i].second, -1, next});
            cur = next;
          }
        }
        return end;
      }
      case GrammarExpr::Kind::kRuleRef: {
        const int32_t next = new_state();
        add(from, {0, 0, e.rule, next});
        return next;
      }
      case GrammarExpr::Kind::kSequence: {
        int32_t cur = from;
        for (const GrammarExpr& part : e.children) cur = build(part, cur);
        return cur;
      }
      case GrammarExpr::Kind::kChoice: {
        const int32_t end = new_state();
        for (const GrammarExpr& alt : e.children) {
          const int32_t start = new_state();
          add_eps(from, start);
          add_eps(build(alt, start), end);
        }
        return end;
      }
      case GrammarExpr::Kind::kRepeat: {
        const GrammarExpr& child = e.children[0];
        int32_t cur = from;
        for (int i = 0; i < e.min && !too_large; ++i) cur = build(child, cur);
        if (e.max == -1) {
          // cur -> child -> back to cur; cur is also the exit.
          const int32_t loop = new_state();
          add_eps(cur, loop);
          add_eps(build(child, loop), loop);
          return loop;
        }
        const int32_t end = new_state();
        add_eps(cur, end);
        for (int i = e.min; i < e.max && !too_large; ++i) {
          cur = build(child, cur);
          add_eps(cur, end);
        }
        return end;
      }
    }
    return from;
  }

  std::vector<int32_t> closure(int32_t s) const {
    std::vector<int32_t> stack{s}, seen{s};
    while (!stack.empty()) {
      const int32_t x = stack.back();
      stack.pop_back();
      for (int32_t y : eps[static_cast<size_t>(x)]) {
        if (std::find(seen.begin(), seen.end(), y) == seen.end()) {
          seen.push_back(y);
          stack.push_back(y);
        }
      }
    }
    return seen;
  }
};

}  // namespace

std::vector<ByteSeq> utf8_sequences(const std::vector<CodepointRange>& ranges, bool negated) {
  std::vector<CodepointRange> positive;
  if (negated) {
    uint32_t next = 0;
    for (const CodepointRange& r : ranges) {
      if (r.lo > next) positive.push_back({next, r.lo - 1});
      next = std::max(next, r.hi + 1);
    }
    if (next <= kMaxCodepoint) positive.push_back({next, kMaxCodepoint});
  } else {
    positive = ranges;
  }
  static constexpr std::array<std::pair<uint32_t, uint32_t>, 4> kLengths = {
      {{0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xFFFF}, {0x10000, kMaxCodepoint}}};
  std::vector<ByteSeq> out;
  for (const CodepointRange& r : positive) {
    for (int n = 1; n <= 4; ++n) {
      const uint32_t lo = std::max(r.lo, kLengths[static_cast<size_t>(n - 1)].first);
      const uint32_t hi = std::min(std::min(r.hi, kMaxCodepoint), kLengths[static_cast<size_t>(n - 1)].second);
      if (lo <= hi) split_range(lo, hi, n, {}, &out);
    }
  }
  return out;
}

Result<RuleAutomata> build_automata(const Grammar& grammar) {
  const size_t num_rules = grammar.rules.size();
  NfaBuilder b;
  std::vector<int32_t> starts(num_rules), accepts(num_rules);
  for (size_t r = 0; r < num_rules; ++r) {
    starts[r] = b.new_state();
    accepts[r] = b.build(grammar.rules[r].body, starts[r]);
    if (b.too_large) return invalid_argument("the grammar is too large once its repetitions are expanded");
  }
  std::vector<int32_t> rule_of(b.out.size(), -1);
  for (size_t r = 0; r < num_rules; ++r) {
    // Every state built for rule r lies between starts[r] and the next rule's start.
    const size_t end = r + 1 < num_rules ? static_cast<size_t>(starts[r + 1]) : b.out.size();
    for (size_t s = static_cast<size_t>(starts[r]); s < end; ++s) rule_of[s] = static_cast<int32_t>(r);
  }
  // A state whose closure holds the accept state and no byte or rule edge: nothing can follow it.
  auto ends_rule = [&](int32_t s, int32_t r) {
    for (int32_t c : b.closure(s)) {
      if (!b.out[static_cast<size_t>(c)].empty()) return false;
    }
    const auto cl = b.closure(s);
    return std::find(cl.begin(), cl.end(), accepts[static_cast<size_t>(r)]) != cl.end();
  };
  // Self tail calls -> loops: `s --r--> t` with t ending r becomes `s --eps--> start(r)`.
  for (size_t s = 0; s < b.out.size(); ++s) {
    const int32_t r = rule_of[s];
    auto& edges = b.out[s];
    for (size_t i = 0; i < edges.size();) {
      if (edges[i].rule == r && ends_rule(edges[i].target, r)) {
        b.eps[s].push_back(starts[static_cast<size_t>(r)]);
        edges.erase(edges.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  // Epsilon removal: keep the rule starts and the targets of real edges.
  RuleAutomata a;
  a.root = grammar.root;
  std::vector<int32_t> new_id(b.out.size(), -1);
  std::vector<int32_t> order;
  auto keep = [&](int32_t s) {
    if (new_id[static_cast<size_t>(s)] < 0) {
      new_id[static_cast<size_t>(s)] = static_cast<int32_t>(order.size());
      order.push_back(s);
    }
  };
  for (size_t r = 0; r < num_rules; ++r) keep(starts[r]);
  for (size_t i = 0; i < order.size(); ++i) {
    for (int32_t c : b.closure(order[i])) {
      for (const auto& e : b.out[static_cast<size_t>(c)]) keep(e.target);
    }
  }
  a.states.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t s = order[i];
    RuleAutomata::State& st = a.states[i];
    st.rule = rule_of[static_cast<size_t>(s)];
    st.edge_begin = static_cast<uint32_t>(a.edges.size());
    for (int32_t c : b.closure(s)) {
      if (c == accepts[static_cast<size_t>(st.rule)]) st.final = true;
      for (const auto& e : b.out[static_cast<size_t>(c)]) {
        RuleAutomata::Edge ne{e.lo, e.hi, e.rule, new_id[static_cast<size_t>(e.target)]};
        const bool dup = std::any_of(a.edges.begin() + st.edge_begin, a.edges.end(), [&](const RuleAutomata::Edge& x) {
          return x.lo == ne.lo && x.hi == ne.hi && x.rule == ne.rule && x.target == ne.target;
        });
        if (!dup) a.edges.push_back(ne);
        if (e.rule < 0) st.has_byte_edges = true;
      }
    }
    st.edge_end = static_cast<uint32_t>(a.edges.size());
    if (a.edges.size() > kMaxAutomatonEdges) return invalid_argument("the grammar is too large");
  }
  a.state_bytes.assign(a.states.size(), {0, 0, 0, 0});
  a.simple_state.assign(a.states.size(), false);
  for (size_t i = 0; i < a.states.size(); ++i) {
    a.simple_state[i] = !a.states[i].final;
    for (uint32_t e = a.states[i].edge_begin; e < a.states[i].edge_end; ++e) {
      if (a.edges[e].rule >= 0) a.simple_state[i] = false;
    }
    for (uint32_t e = a.states[i].edge_begin; e < a.states[i].edge_end; ++e) {
      const RuleAutomata::Edge& edge = a.edges[e];
      if (edge.rule >= 0) continue;
      for (unsigned b = edge.lo; b <= edge.hi; ++b) a.state_bytes[i][b >> 6] |= uint64_t{1} << (b & 63);
    }
  }
  a.rule_start.resize(num_rules);
  for (size_t r = 0; r < num_rules; ++r) a.rule_start[r] = new_id[static_cast<size_t>(starts[r])];
  // Nullable rules: a path from the start over nullable rule edges to a final state.
  a.rule_nullable.assign(num_rules, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < num_rules; ++r) {
      if (a.rule_nullable[r]) continue;
      std::vector<int32_t> stack{a.rule_start[r]}, seen{a.rule_start[r]};
      bool nullable = false;
      while (!stack.empty() && !nullable) {
        const int32_t s = stack.back();
        stack.pop_back();
        const RuleAutomata::State& st = a.states[static_cast<size_t>(s)];
        if (st.final) nullable = true;
        for (uint32_t e = st.edge_begin; e < st.edge_end; ++e) {
          const RuleAutomata::Edge& ed = a.edges[e];
          if (ed.rule >= 0 && a.rule_nullable[static_cast<size_t>(ed.rule)] &&
              std::find(seen.begin(), seen.end(), ed.target) == seen.end()) {
            seen.push_back(ed.target);
            stack.push_back(ed.target);
          }
        }
      }
      if (nullable) {
        a.rule_nullable[r] = true;
        changed = true;
      }
    }
  }
  return a;
}

}  // namespace podserve::structured
