// Randomized KvCacheManager test: 10,000 random add/allocate/compute/decode/fork/free steps over prompts with
// shared prefixes, audit() after every step, and a simulated K/V pool that checks the *contents* the block
// tables imply: every cached-token hit must point at slots holding exactly what this sequence would have
// written, and no step may write into a block another live sequence holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"

namespace podserve {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct SeqModel {
  std::vector<int32_t> tokens;
  std::string salt;
  int computed = 0;
};

// What position p of a sequence holds: a fingerprint of (salt, tokens[0..p]); never 0 (0 = never written).
std::vector<uint64_t> fingerprints(const SeqModel& s) {
  std::vector<uint64_t> fp(s.tokens.size());
  uint64_t h = mix(std::hash<std::string>()(s.salt));
  for (size_t p = 0; p < s.tokens.size(); ++p) fp[p] = (h = mix(h ^ static_cast<uint32_t>(s.tokens[p]))) | 1;
  return fp;
}

class RandomRun {
 public:
  RandomRun(int block_size, bool caching, uint64_t seed)
      : bs_(block_size),
        num_blocks_(256 / block_size),
        kv_({.num_blocks = num_blocks_, .block_size = block_size, .enable_prefix_caching = caching}),
        caching_(caching),
        rng_(seed),
        content_(static_cast<size_t>(num_blocks_) * block_size, 0) {
    for (int d = 0; d < 3; ++d) {
      docs_.emplace_back();
      for (int i = 0; i < 64; ++i) docs_.back().push_back(static_cast<int32_t>(uniform(0, 49)));
    }
  }

  void run(int steps) {
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      const int op = uniform(0, 99);
      if (live_.empty() || (op < 20 && live_.size() < 24)) {
        add();
      } else if (op < 45) {
        allocate(pick());
      } else if (op < 70) {
        compute(pick());
      } else if (op < 80) {
        decode(pick());
      } else if (op < 85 && live_.size() < 24) {
        fork(pick());
      } else {
        free_seq(pick());
      }
      const Status audit = kv_.audit();
      ASSERT_TRUE(audit.ok()) << audit.to_string();
      if (step % 64 == 0) {
        for (const auto& [id, s] : live_) check_contents(id);
      }
      if (::testing::Test::HasFatalFailure() || ::testing::Test::HasFailure()) return;
    }
    while (!live_.empty()) free_seq(live_.begin()->first);
    ASSERT_TRUE(kv_.audit().ok()) << kv_.audit().to_string();
    EXPECT_EQ(kv_.num_free_blocks(), num_blocks_);  // every block free or evictable
    EXPECT_DOUBLE_EQ(kv_.usage(), 0.0);
  }

  int64_t allocation_failures = 0, copies = 0, hits = 0;

 private:
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  SeqId pick() {
    auto it = live_.begin();
    std::advance(it, uniform(0, static_cast<int>(live_.size()) - 1));
    return it->first;
  }
  std::vector<BlockId> table(SeqId id) const {
    auto t = kv_.block_table(id);
    return {t.begin(), t.end()};
  }

  // Every computed position of `id` holds its own fingerprint.
  void check_contents(SeqId id) {
    const SeqModel& s = live_.at(id);
    const auto fp = fingerprints(s);
    for (int p = 0; p < s.computed; ++p) {
      ASSERT_EQ(content_[kv_.slot(id, p)], fp[p]) << "seq " << id << " position " << p;
    }
  }

  void add() {
    SeqModel s;
    const auto& doc = docs_[uniform(0, 2)];
    s.tokens.assign(doc.begin(), doc.begin() + uniform(0, 64));
    for (int n = uniform(s.tokens.empty() ? 1 : 0, 12); n > 0; --n) s.tokens.push_back(uniform(0, 49));
    if (uniform(0, 7) == 0) s.salt = "tenant-" + std::to_string(uniform(0, 1));
    const SeqId id = next_id_++;
    s.computed = kv_.add_sequence(id, s.tokens, s.salt);
    ASSERT_EQ(s.computed % bs_, 0);
    ASSERT_LE(s.computed, static_cast<int>(s.tokens.size()) - 1);
    if (!caching_) {
      ASSERT_EQ(s.computed, 0);
    }
    hits += s.computed;
    live_.emplace(id, std::move(s));
    check_contents(id);
  }

  void allocate(SeqId id) {
    const SeqModel& s = live_.at(id);
    const int target = std::min<int>(static_cast<int>(s.tokens.size()) + 1, s.computed + uniform(1, 24));
    const auto before = table(id);
    const int available = kv_.num_free_blocks();
    if (kv_.allocate(id, target)) {
      const auto after = table(id);
      ASSERT_GE(static_cast<int>(after.size()) * bs_, target);
      ASSERT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
      return;
    }
    ++allocation_failures;
    ASSERT_EQ(table(id), before);
    ASSERT_EQ(kv_.num_free_blocks(), available);
    ASSERT_LT(available, (target + bs_ - 1) / bs_ - static_cast<int>(before.size()));
    // Preempt by recompute, like the scheduler: drop some other sequence (or this one).
    free_seq(pick());
  }

  void compute(SeqId id) {
    SeqModel& s = live_.at(id);
    const auto t = table(id);
    const int limit = std::min<int>(static_cast<int>(s.tokens.size()), static_cast<int>(t.size()) * bs_);
    if (limit <= s.computed) return;
    const int upto = uniform(s.computed + 1, limit);
    const auto fp = fingerprints(s);
    for (int p = s.computed; p < upto; ++p) {
      const BlockId b = t[p / bs_];
      for (const auto& [other, unused] : live_) {
        if (other == id) continue;
        const auto ot = kv_.block_table(other);
        ASSERT_TRUE(std::find(ot.begin(), ot.end(), b) == ot.end())
            << "seq " << id << " writes position " << p << " into block " << b << " shared with seq " << other;
      }
      content_[kv_.slot(id, p)] = fp[p];
    }
    kv_.mark_computed(id, s.tokens, upto);
    s.computed = upto;
  }

  void decode(SeqId id) {
    SeqModel& s = live_.at(id);
    if (s.computed != static_cast<int>(s.tokens.size())) return;
    s.tokens.push_back(uniform(0, 49));
  }

  void fork(SeqId parent) {
    const SeqId child = next_id_++;
    const SeqModel& p = live_.at(parent);
    const int available = kv_.num_free_blocks();
    auto copy = kv_.fork(parent, child);
    if (!copy.ok()) {
      ASSERT_EQ(copy.status().code(), StatusCode::kResourceExhausted);
      ASSERT_EQ(available, 0);
      ASSERT_NE(p.computed % bs_, 0);
      ASSERT_TRUE(kv_.block_table(child).empty());
      return;
    }
    SeqModel c;
    c.tokens.assign(p.tokens.begin(), p.tokens.begin() + p.computed);
    c.salt = p.salt;
    c.computed = p.computed;
    const auto pt = table(parent), ct = table(child);
    ASSERT_EQ(static_cast<int>(ct.size()), (p.computed + bs_ - 1) / bs_);
    ASSERT_TRUE(std::equal(ct.begin(), ct.begin() + p.computed / bs_, pt.begin()));
    ASSERT_EQ(copy->has_value(), p.computed % bs_ != 0);
    if (copy->has_value()) {
      const auto [src, dst] = **copy;
      ASSERT_EQ(src, pt[p.computed / bs_]);
      ASSERT_EQ(dst, ct.back());
      std::copy_n(content_.begin() + static_cast<int64_t>(src) * bs_, bs_,
                  content_.begin() + static_cast<int64_t>(dst) * bs_);
      ++copies;
    }
    live_.emplace(child, std::move(c));
    check_contents(child);
  }

  void free_seq(SeqId id) {
    kv_.free(id);
    live_.erase(id);
    ASSERT_TRUE(kv_.block_table(id).empty());
  }

  const int bs_;
  const int num_blocks_;
  KvCacheManager kv_;
  const bool caching_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> content_;  // simulated K/V: what each slot was last written with
  std::vector<std::vector<int32_t>> docs_;
  std::map<SeqId, SeqModel> live_;
  SeqId next_id_ = 1;
};

class KvCacheRandom : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(KvCacheRandom, TenThousandStepsKeepEveryInvariant) {
  const auto [block_size, caching] = GetParam();
  RandomRun run(block_size, caching, /*seed=*/1234 + block_size);
  run.run(10000);
  EXPECT_GT(run.allocation_failures, 0) << "the pool should come under pressure";
  if (block_size > 1) {
    EXPECT_GT(run.copies, 0) << "some forks should copy a partial block";
  }
  std::printf("block_size %d caching %d: %lld allocation failures, %lld partial-block copies, %lld cached tokens\n",
              block_size, caching, static_cast<long long>(run.allocation_failures),
              static_cast<long long>(run.copies), static_cast<long long>(run.hits));
  if (caching) {
    EXPECT_GT(run.hits, 0) << "shared prefixes should hit the cache";
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, KvCacheRandom,
                         ::testing::Values(std::make_tuple(4, true), std::make_tuple(16, true),
                                           std::make_tuple(1, true), std::make_tuple(4, false)));

}  // namespace
}  // namespace podserve
