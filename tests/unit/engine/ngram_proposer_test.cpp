// The n-gram proposer against vLLM 0.32.0's own _find_longest_matched_ngram_and_propose_tokens, run by
// tools/goldens/ngram_proposer.py on crafted and random contexts (tests/data/ngram_proposer.json).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/spec_decode/ngram_proposer.h"
#include "test_util.h"

namespace podserve {
namespace {

namespace json = boost::json;

std::vector<int32_t> ids(const json::value& v) {
  std::vector<int32_t> out;
  for (const json::value& t : v.as_array()) out.push_back(static_cast<int32_t>(t.as_int64()));
  return out;
}

TEST(NgramProposerTest, MatchesVllmOnEveryGoldenCase) {
  const json::value goldens = json::parse(testing::read_file(testing::test_data_dir() + "/ngram_proposer.json"));
  EXPECT_NE(goldens.at("source").as_string().find("vllm"), json::string::npos) << "goldens not from vLLM's code";
  const json::array& cases = goldens.at("cases").as_array();
  ASSERT_GE(cases.size(), 400u);
  int with_draft = 0;
  std::vector<int32_t> draft;
  for (const json::value& c : cases) {
    const std::vector<int32_t> tokens = ids(c.at("tokens"));
    const int min_n = static_cast<int>(c.at("min_n").as_int64());
    const int max_n = static_cast<int>(c.at("max_n").as_int64());
    const int max_model_len = static_cast<int>(c.at("max_model_len").as_int64());
    const int k = static_cast<int>(c.at("k").as_int64());
    propose_ngram(tokens, min_n, max_n, max_model_len, k, draft);
    EXPECT_EQ(draft, ids(c.at("draft"))) << json::serialize(c);
    with_draft += !draft.empty();
  }
  EXPECT_GE(with_draft, 100);  // the cases exercise matches, not only misses
}

TEST(NgramProposerTest, EarliestOccurrenceOfTheLongestSuffix) {
  std::vector<int32_t> draft;
  // "1 2" occurs twice before the suffix: the first occurrence's followers are proposed.
  propose_ngram(std::vector<int32_t>{1, 2, 9, 1, 2, 8, 1, 2}, 2, 2, 100, 2, draft);
  EXPECT_EQ(draft, (std::vector<int32_t>{9, 1}));
  // A longer match (3 1 2) beats an earlier shorter one.
  propose_ngram(std::vector<int32_t>{7, 1, 2, 5, 3, 1, 2, 6, 3, 1, 2}, 2, 4, 100, 1, draft);
  EXPECT_EQ(draft, (std::vector<int32_t>{6}));
}

}  // namespace
}  // namespace podserve
