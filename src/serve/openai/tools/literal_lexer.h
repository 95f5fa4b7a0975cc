// The text side of vLLM's declarative parser engine (vllm/parser/engine): an incremental lexer that splits
// streamed text into literal terminals (`<tool_call>`, `</think>`, ...) and content, holding back a tail that
// may still become a terminal; and the token-id scanner that cuts a step's text at the marker tokens found by
// id, so a marker spelled in prose is not mistaken for the real token.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podserve::openai {

/// A terminal's index in the lexer's literal list, or kContent for text between terminals.
struct LexPiece {
  static constexpr int kContent = -1;
  int terminal = kContent;
  std::string text;
};

class LiteralLexer {
 public:
  /// `literals[i]` is terminal i's spelling (ASCII).
  explicit LiteralLexer(std::vector<std::string> literals) : literals_(std::move(literals)) {}

  /// Appends `text` and returns what is decided: the longest literal at the front wins, a buffer that is
  /// still a proper prefix of a literal waits (vLLM's IncrementalLexer._drain).
  std::vector<LexPiece> feed(std::string_view text);
  /// Everything still held, as terminals where complete and content otherwise.
  std::vector<LexPiece> flush();
  bool holding() const { return !buffer_.empty(); }
  void reset() { buffer_.clear(); }

 private:
  std::vector<LexPiece> drain(bool final);
  size_t content_boundary() const;
  bool is_first_char(char c) const;

  std::vector<std::string> literals_;
  std::string buffer_;
};

/// One part of a streamed step: text, or a marker found by token id (`terminal` is the caller's index).
struct ScannedPart {
  int terminal = LexPiece::kContent;
  std::string_view text;
};

/// vLLM's TokenIDScanner on a step whose text decodes its ids: each marker id in `delta_ids` (as `markers`
/// maps ids to terminals and spellings) is found in `delta_text`, right to left, and the text around it
/// becomes content parts. A marker whose text is missing (special tokens skipped) is dropped.
struct MarkerToken {
  int32_t id;
  int terminal;
  std::string_view text;
};
std::vector<ScannedPart> scan_marker_ids(std::string_view delta_text, std::span<const int32_t> delta_ids,
                                         std::span<const MarkerToken> markers);

/// The engine's front end: markers found by token id, the rest lexed. Once a step has carried ids, a marker
/// that has an id but was spelled in the text is content (vLLM's strict token-id mode).
class TerminalStream {
 public:
  /// Called with a terminal index, or LexPiece::kContent for text.
  using Sink = std::function<void(int terminal, std::string_view text)>;

  TerminalStream(std::vector<std::string> literals, std::vector<MarkerToken> markers)
      : lexer_(std::move(literals)), markers_(std::move(markers)) {}

  void feed(std::string_view delta, std::span<const int32_t> ids, const Sink& sink);
  void flush(const Sink& sink) { deliver(lexer_.flush(), sink); }
  void reset() {
    lexer_.reset();
    ever_ids_ = false;
  }
  std::optional<int32_t> id_of(int terminal) const;

 private:
  void deliver(const std::vector<LexPiece>& pieces, const Sink& sink) const;

  LiteralLexer lexer_;
  std::vector<MarkerToken> markers_;
  bool ever_ids_ = false;
};

}  // namespace podserve::openai
