// validate_request: vLLM's error messages, verbatim (engines.md §1.6, vLLM engine/serving.py@619e4b31).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/validate.h"

namespace podserve {
namespace {

GenerationRequest request(int prompt_len, int max_tokens) {
  GenerationRequest r;
  r.request_id = "req-1";
  r.prompt_tokens.assign(static_cast<size_t>(prompt_len), 5);
  r.params.max_tokens = max_tokens;
  return r;
}

// "This model's maximum context length is {L} tokens. However, your request has {P} input tokens. Please
// reduce the length of the input messages."
std::string prompt_too_long(int l, int p) {
  return "This model's maximum context length is " + std::to_string(l) + " tokens. However, your request has " +
         std::to_string(p) + " input tokens. Please reduce the length of the input messages.";
}

// "'max_tokens' or 'max_completion_tokens' is too large: {M}. This model's maximum context length is {L}
// tokens and your request has {P} input tokens ({M} > {L} - {P})."
std::string max_tokens_too_large(int m, int l, int p) {
  const std::string ms = std::to_string(m), ls = std::to_string(l), ps = std::to_string(p);
  return "'max_tokens' or 'max_completion_tokens' is too large: " + ms + ". This model's maximum context length is " +
         ls + " tokens and your request has " + ps + " input tokens (" + ms + " > " + ls + " - " + ps + ").";
}

TEST(ValidateRequest, AcceptsRequestsThatFit) {
  EXPECT_TRUE(validate_request(request(1, 1), 2048, 100).ok());
  EXPECT_TRUE(validate_request(request(2047, 1), 2048, 100).ok());   // exactly fills the context
  EXPECT_TRUE(validate_request(request(1000, 1048), 2048, 100).ok());
}

TEST(ValidateRequest, PromptAtOrPastContextLength) {
  for (int p : {2048, 2049, 5000}) {
    const Status s = validate_request(request(p, 16), 2048, 100);
    EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
    EXPECT_EQ(s.message(), prompt_too_long(2048, p));
  }
  EXPECT_EQ(validate_request(request(2048, 16), 2048, 100).message(),
            "This model's maximum context length is 2048 tokens. However, your request has 2048 input tokens. "
            "Please reduce the length of the input messages.");
}

TEST(ValidateRequest, PromptPlusMaxTokensPastContextLength) {
  const Status s = validate_request(request(2047, 2), 2048, 100);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(s.message(), max_tokens_too_large(2, 2048, 2047));
  EXPECT_EQ(validate_request(request(10, 4096), 4096, 100).message(),
            "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is "
            "4096 tokens and your request has 10 input tokens (4096 > 4096 - 10).");
}

TEST(ValidateRequest, EmptyPrompt) {
  const Status s = validate_request(request(0, 16), 2048, 100);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "The decoder prompt cannot be empty");  // vLLM's InputProcessor wording
}

TEST(ValidateRequest, OutOfVocabularyIds) {
  for (int32_t bad : {100, 101, 1 << 30, -1}) {
    GenerationRequest r = request(3, 4);
    r.prompt_tokens[1] = bad;
    const Status s = validate_request(r, 2048, 100);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "Token id " + std::to_string(bad) + " is out of vocabulary");
  }
  GenerationRequest edge = request(2, 4);
  edge.prompt_tokens = {0, 99};  // both ends of the vocabulary are fine
  EXPECT_TRUE(validate_request(edge, 2048, 100).ok());
}

TEST(ValidateRequest, MaxTokensBelowOne) {
  const Status s = validate_request(request(3, 0), 2048, 100);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "max_tokens must be at least 1, got 0.");
}

}  // namespace
}  // namespace podserve
