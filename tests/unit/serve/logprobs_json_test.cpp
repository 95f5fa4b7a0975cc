// Logprobs JSON shapes (chat, legacy completions, prompt_logprobs) and the UTF-8 repair of token bytes.
#include "serve/openai/logprobs_json.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace podserve::openai {
namespace {

namespace json = boost::json;

/// Token i stands for these bytes; 3 is half of "é" (0xC3 0xA9).
std::string bytes_of(int32_t id) {
  switch (id) {
    case 1: return "Hi";
    case 2: return " there";
    case 3: return "\xC3";
    case 4: return "\xA9";
    default: return "?";
  }
}

TEST(Utf8Test, ReplaceLikePython) {
  EXPECT_EQ(utf8_replace("abc"), "abc");
  EXPECT_EQ(utf8_replace("\xC3\xA9"), "\xC3\xA9");  // é stays
  EXPECT_EQ(utf8_replace("\xC3"), "\xEF\xBF\xBD");  // truncated: one U+FFFD
  EXPECT_EQ(utf8_replace("\xE2\x82"), "\xEF\xBF\xBD");  // a maximal subpart is one U+FFFD
  EXPECT_EQ(utf8_replace("\xA9x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(utf8_replace("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogates are invalid
  EXPECT_EQ(utf8_replace("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_length("h\xC3\xA9llo\xEF\xBF\xBD"), 6u);
}

TEST(LogprobsJsonTest, ChatShape) {
  std::vector<TokenLogprobs> tokens = {{1, -0.25f, 1, {{1, -0.25f}, {2, -2.0f}}},
                                       {3, -std::numeric_limits<float>::infinity(), 5, {{2, -1.0f}}}};
  json::value v = chat_logprobs_json(tokens, bytes_of, 2);
  const json::array& content = v.at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("token").as_string(), "Hi");
  EXPECT_DOUBLE_EQ(content[0].at("logprob").as_double(), -0.25);
  EXPECT_EQ(json::serialize(content[0].at("bytes")), "[72,105]");
  const json::array& top = content[0].at("top_logprobs").as_array();
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[1].at("token").as_string(), " there");
  EXPECT_EQ(top[1].as_object().size(), 3u);  // token, logprob, bytes
  // Half a character: the text is U+FFFD, the bytes are the raw byte; -inf is clamped to -9999.
  EXPECT_EQ(content[1].at("token").as_string(), "\xEF\xBF\xBD");
  EXPECT_EQ(json::serialize(content[1].at("bytes")), "[195]");
  EXPECT_DOUBLE_EQ(content[1].at("logprob").as_double(), -9999.0);
  // top_n 0: empty alternatives.
  v = chat_logprobs_json(tokens, bytes_of, 0);
  EXPECT_TRUE(v.at("content").at(0).at("top_logprobs").as_array().empty());
}

TEST(LogprobsJsonTest, CompletionLegacyShape) {
  std::vector<TokenLogprobs> tokens = {{1, -0.5f, 1, {{1, -0.5f}, {2, -1.5f}}}, {2, -3.0f, 3, {{1, -0.1f}}}};
  size_t offset = 10;
  json::value v = completion_logprobs_json(tokens, bytes_of, 2, &offset);
  EXPECT_EQ(json::serialize(v.at("text_offset")), "[10,12]");
  EXPECT_EQ(offset, 18u);  // "Hi" + " there"
  EXPECT_EQ(json::serialize(v.at("tokens")), R"(["Hi"," there"])");
  EXPECT_EQ(json::serialize(v.at("token_logprobs")), "[-5E-1,-3E0]");
  const json::array& top = v.at("top_logprobs").as_array();
  EXPECT_EQ(top[0].as_object().size(), 2u);  // chosen "Hi" (also the top one) + " there"
  EXPECT_DOUBLE_EQ(top[0].at(" there").as_double(), -1.5);
  EXPECT_EQ(top[1].as_object().size(), 2u);  // the chosen token joins the top 1
  EXPECT_DOUBLE_EQ(top[1].at(" there").as_double(), -3.0);
  EXPECT_NEAR(top[1].at("Hi").as_double(), -0.1, 1e-6);
}

TEST(LogprobsJsonTest, PromptShape) {
  std::vector<TokenLogprobs> positions = {{2, -4.0f, 3, {{1, -0.5f}, {2, -4.0f}}}};
  json::value v = prompt_logprobs_json(positions, bytes_of);
  const json::array& list = v.as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0].is_null());
  const json::object& entry = list[1].as_object();
  EXPECT_EQ(entry.size(), 2u);
  EXPECT_EQ(entry.begin()->key(), "2");  // the prompt token first, with its own rank
  EXPECT_EQ(entry.at("2").at("rank").as_int64(), 3);
  EXPECT_EQ(entry.at("2").at("decoded_token").as_string(), " there");
  EXPECT_EQ(entry.at("1").at("rank").as_int64(), 1);
  EXPECT_DOUBLE_EQ(entry.at("1").at("logprob").as_double(), -0.5);
  EXPECT_EQ(json::serialize(prompt_logprobs_json({}, bytes_of)), "[null]");
}

}  // namespace
}  // namespace podserve::openai
