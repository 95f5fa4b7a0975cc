#include "engine/sampling/truncation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "base/check.h"

namespace podserve {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
/// top_p's buckets: one per this many tokens on average, at most kMaxTopPBuckets (16 KiB of sums).
constexpr int64_t kTokensPerBucket = 32;
constexpr int64_t kMaxTopPBuckets = 2048;
/// kth_largest uses a heap for k up to vocab / this, else a selection on a copy.
constexpr size_t kHeapBelowFraction = 64;

/// The order every stage uses: larger logit first, then lower id, so results never depend on how a
/// selection algorithm happens to arrange equal elements.
bool ranks_above(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

struct Bounds {
  float max_logit;  // largest scaled logit
  float kth;        // top-k's threshold (-inf when off)
  float log_min_p;  // min_p's threshold below max_logit (-inf when off)
};

/// Appends the tokens within `bounds` with their scaled logits and weights; returns the sum of the weights.
/// kScale = false skips the division when the temperature is 1 (a vocab of divisions is most of the pass).
template <bool kScale>
double collect(std::span<const float> logits, float temperature, const Bounds& bounds,
               std::vector<Candidate>& out) {
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float scaled = kScale ? logits[i] / temperature : logits[i];  // divide as vLLM does: its rounding
    // `scaled > -inf` drops masked tokens (and NaN, for which every comparison is false).
    if (scaled > -kInf && scaled >= bounds.kth && scaled - bounds.max_logit >= bounds.log_min_p) {
      const float weight = std::exp(scaled - bounds.max_logit);
      out.push_back({scaled, weight, static_cast<int32_t>(i)});
      total += weight;
    }
  }
  return total;
}

}  // namespace

void Candidates::gather(std::span<const float> logits, float temperature, float min_p, int top_k) {
  PODSERVE_CHECK(temperature > 0.0f) << "temperature " << temperature;
  items_.clear();
  total_ = 0.0;
  float max_raw = -kInf;
  for (float x : logits) max_raw = x > max_raw ? x : max_raw;
  if (!std::isfinite(max_raw)) return;  // everything masked (or a broken model): nothing to sample from
  // Division is monotonic, so the largest scaled logit is the scaled largest one, and likewise the k-th.
  max_logit_ = max_raw / temperature;
  // p_i >= min_p * p_max  <=>  exp(scaled_i - max) >= min_p  <=>  scaled_i - max >= log(min_p).
  const float log_min_p = min_p > 0.0f ? std::log(min_p) : -kInf;
  const bool use_top_k = top_k > 0 && static_cast<size_t>(top_k) < logits.size();
  const float kth = use_top_k ? kth_largest(logits, top_k) / temperature : -kInf;
  items_.reserve(use_top_k ? static_cast<size_t>(top_k) : logits.size());
  const Bounds bounds{max_logit_, kth, log_min_p};
  total_ = temperature == 1.0f ? collect<false>(logits, 1.0f, bounds, items_)
                               : collect<true>(logits, temperature, bounds, items_);
}

float Candidates::kth_largest(std::span<const float> logits, int k) {
  heap_.clear();
  const size_t want = static_cast<size_t>(k);
  if (want > logits.size() / kHeapBelowFraction) {  // a large k: select on a copy
    for (float x : logits) {
      if (!std::isnan(x)) heap_.push_back(x);
    }
    if (heap_.size() < want) return -kInf;
    std::nth_element(heap_.begin(), heap_.begin() + (k - 1), heap_.end(), std::greater<float>());
    return heap_[k - 1];
  }
  // A small k: one scan keeping the k largest in a min-heap, so most tokens cost one comparison.
  for (float x : logits) {
    if (heap_.size() < want) {
      if (std::isnan(x)) continue;
      heap_.push_back(x);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<float>());
    } else if (x > heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<float>());
      heap_.back() = x;
      std::push_heap(heap_.begin(), heap_.end(), std::greater<float>());
    }
  }
  return heap_.size() < want ? -kInf : heap_.front();
}

void Candidates::top_p(float top_p) {
  if (top_p >= 1.0f || items_.size() <= 1) return;
  const double target = static_cast<double>(top_p) * total_;
  // The tail lighter than tau weighs less than n * tau = (1 - top_p) * total / 2 altogether, so the heavier
  // tokens alone already reach the target and the cut lies among them: one linear pass drops the long tail.
  const double tau = 0.5 * (total_ - target) / static_cast<double>(items_.size());
  const auto first = items_.begin();
  const auto heavy_end = std::partition(first, items_.end(), [tau](const Candidate& c) { return c.weight >= tau; });
  float lowest = max_logit_;
  for (auto it = first; it != heavy_end; ++it) lowest = std::min(lowest, it->logit);
  // Buckets of equal width in logit below the max. The bucket index only grows as the logit falls, so every
  // bucket before the one where the running mass reaches the target is kept whole, every one after it is
  // dropped, and only that one bucket needs sorting. A short list is a single bucket: just sorted.
  const int64_t heavy = heavy_end - first;
  const int buckets = static_cast<int>(std::clamp<int64_t>(heavy / kTokensPerBucket, 1, kMaxTopPBuckets));
  const float spread = max_logit_ - lowest;
  const float scale = spread > 0.0f ? static_cast<float>(buckets - 1) / spread : 0.0f;
  auto bucket_of = [this, scale, buckets](const Candidate& c) {
    return std::min(buckets - 1, static_cast<int>((max_logit_ - c.logit) * scale));
  };
  bucket_mass_.assign(buckets, 0.0);
  for (auto it = first; it != heavy_end; ++it) bucket_mass_[bucket_of(*it)] += it->weight;
  int cut_bucket = 0;
  double above = 0.0;  // mass of the buckets before cut_bucket
  for (; cut_bucket < buckets - 1 && above + bucket_mass_[cut_bucket] < target; ++cut_bucket) {
    above += bucket_mass_[cut_bucket];
  }
  const auto lo = std::partition(first, heavy_end, [&](const Candidate& c) { return bucket_of(c) < cut_bucket; });
  const auto hi = std::partition(lo, heavy_end, [&](const Candidate& c) { return bucket_of(c) == cut_bucket; });
  std::sort(lo, hi, ranks_above);
  size_t cut = static_cast<size_t>(hi - first);  // rounding never let the scan reach the target: keep it all
  for (auto it = lo; it != hi; ++it) {
    above += it->weight;
    if (above >= target) {
      cut = static_cast<size_t>(it - first) + 1;
      break;
    }
  }
  items_.resize(cut);
  total_ = sum_weights();
}

int32_t Candidates::draw(Rng& rng) {
  PODSERVE_CHECK(!items_.empty());
  const double r = rng.next_double() * total_;
  // Same summation order as total_, so the running sum ends exactly at total_ > r.
  double acc = 0.0;
  for (const Candidate& c : items_) {
    acc += c.weight;
    if (r < acc) return c.id;
  }
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {  // rounding: the last token with any weight
    if (it->weight > 0.0f) return it->id;
  }
  return items_.back().id;
}

double Candidates::probability(int32_t id) const {
  if (total_ <= 0.0) return 0.0;
  for (const Candidate& c : items_) {
    if (c.id == id) return c.weight / total_;
  }
  return 0.0;
}

void Candidates::remove(int32_t id) {
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].id != id) continue;
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    total_ = sum_weights();
    return;
  }
}

double Candidates::sum_weights() const {
  double total = 0.0;
  for (const Candidate& c : items_) total += c.weight;
  return total;
}

}  // namespace podserve
