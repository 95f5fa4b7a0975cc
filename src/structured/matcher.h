// The per-sequence state of a constrained generation (xgrammar's GrammarMatcher): it accepts the sampled tokens,
// fills the next token's bitmask (int32 words as xgrammar: bit i % 32 of word i / 32 set = token i allowed),
// rolls back, forks (a plain copy: n > 1 candidates), and reports termination (a stop token accepted where the
// grammar may end). Not thread-safe; distinct matchers may run on distinct threads over one CompiledGrammar.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "structured/compiled_grammar.h"
#include "structured/earley.h"

namespace podserve::structured {

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  GrammarMatcher(const GrammarMatcher& other);
  GrammarMatcher& operator=(const GrammarMatcher&) = delete;

  /// Advances over `token`; false (state unchanged) when the grammar does not allow it here.
  bool accept_token(int32_t token);
  /// Advances over raw bytes (tests, jump-forward); false (state unchanged) when rejected.
  bool accept_string(std::string_view bytes);
  /// Writes the allowed tokens of the next step into `mask` (at least vocab().mask_words() words). Leaves the
  /// matcher's state as it was. After termination every word is zero.
  void fill_next_token_bitmask(std::span<uint32_t> mask);
  /// Undoes the last `num_tokens` accepted tokens (termination included).
  void rollback(int num_tokens);

  bool is_terminated() const { return terminated_; }
  /// The grammar may end here (a stop token would be accepted).
  bool can_end() const { return !terminated_ && parser_.goal_complete(); }
  int num_accepted_tokens() const { return static_cast<int>(token_bytes_.size()); }
  const CompiledGrammar& grammar() const { return *grammar_; }

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  EarleyParser parser_;
  std::vector<uint32_t> token_bytes_;  // bytes each accepted token added (0 for the stop token)
  bool terminated_ = false;
  // fill_next_token_bitmask scratch
  std::vector<int32_t> seen_states_;
  std::vector<int32_t> uncertain_;
};

}  // namespace podserve::structured
