// gpt-oss's harmony output format, parsed from token ids as vLLM's HarmonyParser does (vllm/parser/harmony.py over
// openai_harmony's StreamableParser): messages `<|start|>HEADER<|message|>TEXT<|end|>` (or <|call|> / <|return|>),
// the first one's `<|start|>assistant` already in the prompt. The analysis channel is reasoning, final (and
// commentary without a recipient) is content, a recipient `functions.NAME` is a tool call; whole and streamed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/output_parser.h"

namespace podserve::openai {

/// The harmony special tokens (their ids in the model's vocabulary).
struct HarmonyTokens {
  int32_t start = -1, end = -1, message = -1, channel = -1, call = -1, ret = -1;

  /// The ids from `vocab`; nullopt when one is missing (the parser cannot work on that vocabulary).
  static std::optional<HarmonyTokens> from(const ParserVocab& vocab);
};

/// openai_harmony's StreamableParser for the assistant role: one token at a time, whole messages collected.
class HarmonyStream {
 public:
  struct Message {
    std::string role;
    std::optional<std::string> channel, recipient, content_type;
    std::string text;
  };

  HarmonyStream(const ParserVocab& vocab, const HarmonyTokens& tokens) : vocab_(&vocab), tok_(tokens) {}

  /// False where openai_harmony raises (a token out of place, a header it cannot read): the token is dropped.
  bool process(int32_t token);
  /// End of output: an open message is completed; false when a header was still open.
  bool process_eos();

  /// The current message's channel and recipient (set only while inside its content).
  const std::optional<std::string>& current_channel() const;
  const std::optional<std::string>& current_recipient() const;
  /// The text the last token added to the content (none when it only began a UTF-8 sequence).
  const std::optional<std::string>& last_content_delta() const { return last_delta_; }
  const std::vector<Message>& messages() const { return messages_; }

 private:
  enum class State { kExpectStart, kHeader, kContent };
  bool parse_header();
  void decode_delta(std::string_view bytes);
  void complete_message();

  const ParserVocab* vocab_;
  HarmonyTokens tok_;
  State state_ = State::kHeader;  // the prompt ends with `<|start|>assistant`
  bool role_given_ = true;
  std::string header_bytes_;
  std::string content_bytes_;  // the current message's content
  std::string undecoded_;      // content bytes not sent as a delta yet
  Message current_;
  std::optional<std::string> last_delta_;
  std::vector<Message> messages_;
};

/// vLLM's HarmonyParser: reasoning, content and tool calls of one choice. Reasoning is reported only with a
/// reasoning parser configured, tool calls only with a tool parser.
class HarmonyOutput {
 public:
  HarmonyOutput(const ParserVocab& vocab, const HarmonyTokens& tokens, bool reasoning, bool tools,
                bool include_reasoning);

  ParsedOutput parse(std::span<const int32_t> ids);
  std::optional<DeltaMessage> parse_delta(std::span<const int32_t> delta_ids, bool finished);
  int count_reasoning_tokens(std::span<const int32_t> ids) const;

 private:
  struct Segment {
    std::optional<std::string> channel, recipient;
    std::string delta;
    std::optional<HarmonyStream::Message> completed;
  };
  void process_chunk(std::span<const int32_t> ids, std::vector<Segment>& out);
  void flush(std::vector<Segment>& out);
  std::optional<HarmonyStream::Message> poll_completed();

  const ParserVocab& vocab_;
  HarmonyTokens tok_;
  bool reasoning_, tools_, include_reasoning_;
  HarmonyStream stream_;
  size_t processed_messages_ = 0;
  std::vector<int32_t> message_tokens_;  // since the last completed message (the recovery text)
  int next_tool_index_ = 0;
  size_t counted_tokens_ = 0;
  int reasoning_tokens_ = 0;
};

}  // namespace podserve::openai
