// The model tier's rule for real models against llama.cpp (goldens from tools/goldens/model*.py, llama-cpp-python
// on the same GGUF): first-step logits and logprobs within a tolerance, then greedy continuations identical to
// llama.cpp's until a step where llama.cpp's own top-2 margin is a near tie; after such a split every later step
// where llama.cpp's choice is clear must still agree (each step is fed llama.cpp's token, so both runs keep seeing
// the same context).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "engine/sampling/logprobs.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "model_checks.h"

namespace podserve::testing {

struct NearTieRule {
  double logit_tolerance;  // first-step logits and logprobs of llama.cpp's top candidates
  double near_tie;         // a step may disagree only where llama.cpp's top-2 margin is below this
};

struct GoldensTally {
  int identical_prefix_tokens = 0;  // greedy tokens equal to llama.cpp's before any near-tie split
  int forced_tokens = 0;            // steps compared on llama.cpp's context after a split
  int identical_cases = 0;          // continuations identical end to end
  double worst_first_step = 0;      // largest first-step logit difference
};

/// Applies the rule to every case of a goldens file. `show` (optional) prints our continuation for a person.
inline GoldensTally compare_with_llama_cpp(LoadedModel& model, const boost::json::array& cases,
                                           const NearTieRule& rule, const ScrambledKv& kv, bool show) {
  namespace json = boost::json;
  CausalLm& lm = model.lm();
  GoldensTally tally;
  for (const auto& c : cases) {
    const auto prompt = ids_of(c.at("prompt_tokens"));
    const auto expected = ids_of(c.at("greedy_tokens"));
    const auto& margins = c.at("top2_margins").as_array();
    SCOPED_TRACE(json::value_to<std::string>(c.at("prompt")));
    EXPECT_GE(c.at("max_tokens").as_int64(), 32);  // issue 3: continuations of >= 32 tokens
    EXPECT_EQ(margins.size(), expected.size());
    if (margins.size() != expected.size() ||
        prompt.size() + expected.size() > static_cast<size_t>(kv.blocks) * kv.block_size) {
      ADD_FAILURE() << "case does not fit the test's K/V pool";
      continue;
    }
    KvPool pool = kv.make_pool(lm);
    std::vector<float> logits;
    if (!kv.run(lm, pool, prompt, 0, logits).ok()) {
      ADD_FAILURE() << "prefill failed";
      continue;
    }
    // First-step logits of llama.cpp's top candidates, and the logprobs the sampler reports for them.
    for (const auto& top : c.at("first_top_logits").as_array()) {
      const auto id = static_cast<int32_t>(top.at("id").as_int64());
      const double expected_logit = top.at("logit").as_double();
      EXPECT_NEAR(logits[id], expected_logit, rule.logit_tolerance) << "token " << id;
      tally.worst_first_step = std::max(tally.worst_first_step, std::abs(logits[id] - expected_logit));
      const TokenLogprobs lp = compute_logprobs(logits, id, 0);
      EXPECT_NEAR(lp.logprob, top.at("logprob").as_double(), rule.logit_tolerance) << "token " << id;
    }
    int pos = static_cast<int>(prompt.size());
    bool diverged = false;
    std::vector<int32_t> ours;  // our greedy choices up to the first divergence
    for (size_t i = 0; i < expected.size(); ++i) {
      const int32_t token = argmax(logits);
      if (token != expected[i]) {
        const double margin = margins[i].to_number<double>();
        EXPECT_LT(margin, rule.near_tie) << "step " << i << ": got " << token << ", llama.cpp " << expected[i];
        if (!diverged)
          std::printf("case diverges at step %zu/%zu, where llama.cpp's top-2 margin is %.3f\n", i, expected.size(),
                      margin);
        diverged = true;
      }
      if (!diverged) ours.push_back(token);
      (diverged ? tally.forced_tokens : tally.identical_prefix_tokens) += 1;
      if (i + 1 == expected.size()) break;
      if (!kv.run(lm, pool, std::span<const int32_t>(&expected[i], 1), pos++, logits).ok()) {
        ADD_FAILURE() << "decode step " << i << " failed";
        break;
      }
    }
    tally.identical_cases += diverged ? 0 : 1;
    if (show) {
      const std::string text = json::value_to<std::string>(c.at("prompt"));
      const std::string tail = text.size() > 60 ? text.substr(text.size() - 60) : text;
      std::printf("%s -> %s%s\n", json::serialize(json::string(tail)).c_str(),
                  json::serialize(json::string(model.tokenizer().decode(ours, true))).c_str(),
                  diverged ? " [then a near tie]" : "");
    }
  }
  std::printf("%d of %zu continuations identical to llama.cpp; %d greedy tokens identical before a near-tie, "
              "%d more compared on llama.cpp's context after it; largest first-step logit difference %.3f\n",
              tally.identical_cases, cases.size(), tally.identical_prefix_tokens, tally.forced_tokens,
              tally.worst_first_step);
  return tally;
}

}  // namespace podserve::testing
