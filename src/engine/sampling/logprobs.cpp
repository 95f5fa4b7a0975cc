#include "engine/sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "base/check.h"

namespace podserve {
namespace {

using Entry = std::pair<float, int32_t>;  // (logit, id)

/// Larger logit first, then lower id.
bool higher(const Entry& a, const Entry& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); }

}  // namespace

TokenLogprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n) {
  const size_t vocab = logits.size();
  PODSERVE_CHECK(vocab > 0 && token >= 0 && static_cast<size_t>(token) < vocab) << "token " << token;
  const float own = logits[token];
  float max = -std::numeric_limits<float>::infinity();
  int rank = 0;
  for (float x : logits) {
    max = x > max ? x : max;
    rank += x >= own ? 1 : 0;
  }
  const size_t n = top_n < 0 ? vocab : std::min(vocab, static_cast<size_t>(top_n));
  // One pass for the normalizer and the top n: float exp, double sum (the error stays near 1e-7), and a heap
  // holding the current best n with the worst of them on top, so most tokens cost one comparison.
  std::vector<Entry> heap;
  heap.reserve(n);
  double sum = 0.0;
  for (size_t i = 0; i < vocab; ++i) {
    sum += std::exp(logits[i] - max);
    if (n == 0) continue;
    const Entry e{logits[i], static_cast<int32_t>(i)};
    if (heap.size() < n) {
      heap.push_back(e);
      std::push_heap(heap.begin(), heap.end(), higher);
    } else if (higher(e, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), higher);
      heap.back() = e;
      std::push_heap(heap.begin(), heap.end(), higher);
    }
  }
  const double log_normalizer = static_cast<double>(max) + std::log(sum);
  auto logprob = [log_normalizer](float x) { return static_cast<float>(static_cast<double>(x) - log_normalizer); };

  TokenLogprobs out;
  out.token = token;
  out.logprob = logprob(own);
  out.rank = rank;
  std::sort_heap(heap.begin(), heap.end(), higher);  // best first
  out.top.reserve(heap.size());
  for (const auto& [x, id] : heap) out.top.emplace_back(id, logprob(x));
  return out;
}

}  // namespace podserve
