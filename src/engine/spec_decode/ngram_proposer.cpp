#include "engine/spec_decode/ngram_proposer.h"

#include <algorithm>

namespace podserve {

void propose_ngram(std::span<const int32_t> tokens, int min_n, int max_n, int max_model_len, int k,
                   std::vector<int32_t>& draft) {
  draft.clear();
  const int total = static_cast<int>(tokens.size());
  if (total < min_n || max_n < 1) return;
  k = std::min(k, max_model_len - total);
  if (k <= 0) return;
  // A KMP failure-function scan of the reversed context against its own prefix (= the context's suffix, read
  // backwards): at reversed index i, `matched` is how many tokens ending at original position total-1-i equal the
  // context's last tokens. The match length is capped at max_n (then it falls back along the failure links), and
  // `>=` keeps the largest i, i.e. the earliest occurrence in the original order.
  auto rev = [&](int i) { return tokens[static_cast<size_t>(total - 1 - i)]; };
  std::vector<int> lps(static_cast<size_t>(max_n), 0);
  int longest = 0, position = 0, matched = 0;
  for (int i = 1; i < total;) {
    if (rev(matched) == rev(i)) {
      ++matched;
      if (matched >= longest) {
        longest = matched;
        position = i;
      }
      if (i < max_n) lps[static_cast<size_t>(i)] = matched;
      if (matched == max_n) matched = lps[static_cast<size_t>(max_n - 1)];
      ++i;
    } else if (matched != 0) {
      matched = lps[static_cast<size_t>(matched - 1)];
    } else {
      ++i;
    }
  }
  if (longest < min_n) return;
  const int start = total - 1 - position + longest;  // the token after the matched occurrence
  k = std::min(k, total - start);
  draft.assign(tokens.begin() + start, tokens.begin() + start + k);
}

}  // namespace podserve
