// A compiled Oniguruma regex (the engine HF `tokenizers` uses, so matches are identical), used to split text
// into pre-tokens. Immutable after compilation and safe to share between threads.
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace podserve::tokenizer_internal {

class Regex {
 public:
  /// Compiles `pattern` (Ruby syntax, UTF-8, Unicode classes). A bad pattern is InvalidArgument.
  static Result<Regex> compile(std::string_view pattern);

  /// Appends the pieces of `text` (valid UTF-8) to `out`: every match and every gap between matches, in
  /// order (HF's `Isolated` split behaviour). Empty matches are skipped; no piece is empty.
  void split_isolated(std::string_view text, std::vector<std::string_view>* out) const;

  /// Appends the [begin, end) byte ranges of the non-empty matches in `text` (valid UTF-8), left to right.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>* out) const;

 private:
  struct Deleter {
    void operator()(void* reg) const;
  };
  explicit Regex(void* reg) : reg_(reg) {}
  std::unique_ptr<void, Deleter> reg_;  // regex_t*, kept opaque so callers need no Oniguruma headers
};

}  // namespace podserve::tokenizer_internal
