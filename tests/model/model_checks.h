// The model tier's shared pieces: reading goldens, loading a GGUF, and the forward-pass loops the tests compare
// with a reference (logits at recorded prompt positions, greedy continuations through the paged cache, and
// following a reference's greedy path with vLLM's top-5 rule), all over a scrambled block table.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/registry.h"
#include "test_util.h"

namespace podserve::testing {

/// A goldens file of tests/data (a test fails if it cannot be read; boost::json throws on bad JSON).
inline boost::json::value read_goldens(const std::string& path) { return boost::json::parse(read_file(path)); }

/// A JSON array of token ids.
inline std::vector<int32_t> ids_of(const boost::json::value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int32_t>(x.as_int64()));
  return out;
}

inline int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

/// A GGUF file through create_causal_lm; null, with a failed expectation saying why, when it does not load.
inline std::unique_ptr<CausalLm> load_gguf_lm(const std::string& path, int num_threads = 2) {
  auto file = GgufFile::open(path);
  EXPECT_TRUE(file.ok()) << file.status().to_string();
  if (!file.ok()) return nullptr;
  auto lm = create_causal_lm(std::move(file).value(), num_threads);
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

/// Max |ours - theirs| over rows of logits: `theirs` is a JSON array of rows of `vocab` numbers, `ours` the same
/// rows back to back.
inline double max_diff(std::span<const float> ours, const boost::json::value& theirs, int vocab) {
  double worst = 0.0;
  const auto& rows = theirs.as_array();
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r].as_array();
    EXPECT_EQ(row.size(), static_cast<size_t>(vocab));
    for (int v = 0; v < vocab; ++v) {
      worst = std::max(worst, std::fabs(ours[r * vocab + v] - row[v].to_number<double>()));
    }
  }
  return worst;
}

/// A paged pool of `blocks` blocks of `block_size` tokens and a block table that uses them in a scrambled order, so
/// the comparisons also exercise the paged K/V addressing.
struct ScrambledKv {
  int block_size = 16;
  int blocks = 64;
  /// The model's own pool (its K/V precision, in the memory it computes in) of `blocks` blocks.
  KvPool make_pool(CausalLm& lm) const {
    KvCacheRequest request;
    request.block_size = block_size;
    request.max_model_len = blocks * block_size;  // one sequence may take the whole pool
    request.num_kv_blocks = blocks;
    auto pool = lm.create_kv_cache(request);
    EXPECT_TRUE(pool.ok()) << pool.status().to_string();
    return std::move(pool).value();
  }
  std::vector<int32_t> table() const {
    std::vector<int32_t> t(blocks);
    for (int i = 0; i < blocks; ++i) t[i] = (i * 37 + 5) % blocks;
    return t;
  }
  /// Runs `tokens` at [start, start + size) of one sequence (with LoRA adapter `lora` when not null); `logits` gets
  /// its last token's logits.
  Status run(CausalLm& lm, KvPool& pool, std::span<const int32_t> tokens, int start, std::vector<float>& logits,
             const LoraAdapter* lora = nullptr) const {
    ForwardBatch batch;
    if (lora != nullptr) batch.loras.push_back(lora);
    batch.add_sequence(tokens, start, table(), block_size, true, lora != nullptr ? 0 : -1);
    logits.resize(lm.config().vocab_size);
    return lm.forward(batch, pool, logits.data());
  }
  /// One forward over a whole prompt; `logits` gets the logits at `positions` ([positions, vocab]).
  Status run_prompt(CausalLm& lm, KvPool& pool, std::span<const int32_t> prompt, const std::vector<int32_t>& positions,
                    std::vector<float>& logits) const {
    ForwardBatch batch;
    batch.add_sequence(prompt, 0, table(), block_size, false);
    batch.logits_rows = positions;
    logits.resize(positions.size() * lm.config().vocab_size);
    return lm.forward(batch, pool, logits.data());
  }
  /// `count` greedy tokens after the first `length` tokens of a sequence, whose last logits are `logits`: each
  /// chosen token is fed back one per step through the paged cache (the last one is not run).
  Result<std::vector<int32_t>> continue_greedy(CausalLm& lm, KvPool& pool, int length, std::vector<float> logits,
                                               size_t count) const {
    std::vector<int32_t> out;
    while (out.size() < count) {
      out.push_back(argmax(logits));
      if (out.size() == count) break;
      PODSERVE_RETURN_IF_ERROR(run(lm, pool, std::span<const int32_t>(&out.back(), 1), length++, logits));
    }
    return out;
  }
};

/// The tiny random models of tools/goldens/tiny_models.py and their GGUF conversions (tiny_gguf.py).
inline std::string tiny_model_dir(const std::string& name) { return test_data_dir() + "/tiny_models/" + name; }
/// K/V for them: 24 blocks of 16 = 384 positions, the longest prompt (200) plus its 64-token continuation.
inline constexpr ScrambledKv kTinyModelKv{.block_size = 16, .blocks = 24};

/// Prefill of `prompt` in one step and in two halves gives bit-identical last logits: per-token arithmetic does not
/// depend on how the tokens are batched.
inline void expect_chunked_prefill_equals_one_shot(CausalLm& lm, const ScrambledKv& kv,
                                                   std::span<const int32_t> prompt) {
  std::vector<float> one_shot, chunked;
  KvPool pool = kv.make_pool(lm), pool2 = kv.make_pool(lm);
  ASSERT_TRUE(kv.run(lm, pool, prompt, 0, one_shot).ok());
  const size_t half = prompt.size() / 2;
  ASSERT_TRUE(kv.run(lm, pool2, prompt.first(half), 0, chunked).ok());
  ASSERT_TRUE(kv.run(lm, pool2, prompt.subspan(half), static_cast<int>(half), chunked).ok());
  for (size_t i = 0; i < one_shot.size(); ++i) ASSERT_EQ(one_shot[i], chunked[i]) << i;
}

struct PathTally {
  int steps = 0;  // steps compared
  int equal = 0;  // steps where our top-1 is the reference's
};

/// Follows a reference's greedy path (`c`: "ids", "greedy", and "top5" per step), feeding its tokens one per step
/// through the paged cache: at every step our top-1 must be within the reference's top-5 (vLLM's
/// check_logprobs_close rule for quantized formats). Stops before the sequence grows past `max_length` tokens.
/// Every step runs LoRA adapter `lora` when not null.
inline void expect_top1_within_reference_top5(CausalLm& lm, const ScrambledKv& kv, const boost::json::value& c,
                                              const std::string& label, PathTally& tally,
                                              size_t max_length = std::numeric_limits<size_t>::max(),
                                              const LoraAdapter* lora = nullptr) {
  KvPool pool = kv.make_pool(lm);
  std::vector<int32_t> seq = ids_of(c.at("ids"));
  const size_t prompt_length = seq.size();
  const std::vector<int32_t> path = ids_of(c.at("greedy"));
  const auto& top5 = c.at("top5").as_array();
  std::vector<float> logits;
  int start = 0;
  for (size_t step = 0; step < path.size() && seq.size() <= max_length; ++step) {
    Status s = kv.run(lm, pool, std::span<const int32_t>(seq).subspan(start), start, logits, lora);
    ASSERT_TRUE(s.ok()) << s.to_string();
    start = static_cast<int>(seq.size());
    const int32_t ours = argmax(logits);
    const std::vector<int32_t> ref_top = ids_of(top5[step]);
    EXPECT_NE(std::find(ref_top.begin(), ref_top.end(), ours), ref_top.end())
        << label << " prompt of " << prompt_length << ", step " << step << ": our top-1 " << ours
        << " is not in the reference's top-5";
    tally.equal += ours == path[step];
    ++tally.steps;
    seq.push_back(path[step]);  // follow the reference's path
  }
}

}  // namespace podserve::testing
