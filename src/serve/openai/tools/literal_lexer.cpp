#include "serve/openai/tools/literal_lexer.h"

#include <algorithm>

namespace podserve::openai {

bool LiteralLexer::is_first_char(char c) const {
  return std::any_of(literals_.begin(), literals_.end(), [c](const std::string& l) { return !l.empty() && l[0] == c; });
}

std::vector<LexPiece> LiteralLexer::feed(std::string_view text) {
  buffer_.append(text);
  return drain(false);
}

std::vector<LexPiece> LiteralLexer::flush() { return drain(true); }

/// The first position after 0 where the rest of the buffer could be (the start of) a literal.
size_t LiteralLexer::content_boundary() const {
  for (size_t i = 1; i < buffer_.size(); ++i) {
    if (!is_first_char(buffer_[i])) continue;
    const std::string_view rest = std::string_view(buffer_).substr(i);
    for (const std::string& lit : literals_) {
      const size_t n = std::min(rest.size(), lit.size());
      if (rest.substr(0, n) == std::string_view(lit).substr(0, n)) return i;
    }
  }
  return buffer_.size();
}

std::vector<LexPiece> LiteralLexer::drain(bool final) {
  std::vector<LexPiece> out;
  auto emit = [&](int terminal, size_t n) {
    if (terminal == LexPiece::kContent && !out.empty() && out.back().terminal == LexPiece::kContent) {
      out.back().text.append(buffer_, 0, n);
    } else {
      out.push_back(LexPiece{terminal, buffer_.substr(0, n)});
    }
    buffer_.erase(0, n);
  };
  while (!buffer_.empty()) {
    if (std::none_of(buffer_.begin(), buffer_.end(), [this](char c) { return is_first_char(c); })) {
      emit(LexPiece::kContent, buffer_.size());
      break;
    }
    int best = -1;
    bool longer = false;  // a longer literal still starts with the whole buffer
    for (size_t i = 0; i < literals_.size(); ++i) {
      const std::string& lit = literals_[i];
      if (buffer_.starts_with(lit) && (best < 0 || lit.size() > literals_[best].size())) best = static_cast<int>(i);
      if (lit.size() > buffer_.size() && lit.starts_with(buffer_)) longer = true;
    }
    if (longer && !final) {
      if (best < 0) break;
      // A complete literal that a longer one may still extend: vLLM waits only when the buffer is a proper
      // prefix of a literal longer than the match.
      bool extends = false;
      for (const std::string& lit : literals_) {
        if (lit.size() > literals_[best].size() && lit.starts_with(buffer_)) extends = true;
      }
      if (extends) break;
    }
    if (best >= 0) {
      emit(best, literals_[best].size());
    } else {
      emit(LexPiece::kContent, content_boundary());
    }
  }
  return out;
}

std::vector<ScannedPart> scan_marker_ids(std::string_view delta_text, std::span<const int32_t> delta_ids,
                                         std::span<const MarkerToken> markers) {
  std::vector<const MarkerToken*> anchors;
  for (int32_t id : delta_ids) {
    for (const MarkerToken& m : markers) {
      if (m.id == id) anchors.push_back(&m);
    }
  }
  std::vector<size_t> pos(anchors.size(), std::string_view::npos);
  size_t search_end = delta_text.size();
  for (size_t i = anchors.size(); i-- > 0;) {
    const std::string_view t = anchors[i]->text;
    if (t.size() > search_end) continue;
    const size_t p = delta_text.substr(0, search_end).rfind(t);
    if (p != std::string_view::npos) {
      pos[i] = p;
      search_end = p;
    }
  }
  std::vector<ScannedPart> out;
  size_t consumed = 0;
  for (size_t i = 0; i < anchors.size(); ++i) {
    if (pos[i] == std::string_view::npos || pos[i] < consumed) continue;
    if (pos[i] > consumed) out.push_back(ScannedPart{LexPiece::kContent, delta_text.substr(consumed, pos[i] - consumed)});
    out.push_back(ScannedPart{anchors[i]->terminal, delta_text.substr(pos[i], anchors[i]->text.size())});
    consumed = pos[i] + anchors[i]->text.size();
  }
  if (consumed < delta_text.size()) out.push_back(ScannedPart{LexPiece::kContent, delta_text.substr(consumed)});
  return out;
}

void TerminalStream::feed(std::string_view delta, std::span<const int32_t> ids, const Sink& sink) {
  if (!ids.empty()) ever_ids_ = true;
  for (const ScannedPart& part : scan_marker_ids(delta, ids, markers_)) {
    if (part.terminal == LexPiece::kContent) {
      deliver(lexer_.feed(part.text), sink);
    } else {
      deliver(lexer_.flush(), sink);
      sink(part.terminal, part.text);
    }
  }
}

void TerminalStream::deliver(const std::vector<LexPiece>& pieces, const Sink& sink) const {
  for (const LexPiece& p : pieces) {
    const bool by_id = ever_ids_ && id_of(p.terminal).has_value();
    sink(by_id ? LexPiece::kContent : p.terminal, p.text);
  }
}

std::optional<int32_t> TerminalStream::id_of(int terminal) const {
  if (terminal == LexPiece::kContent) return std::nullopt;
  for (const MarkerToken& m : markers_) {
    if (m.terminal == terminal) return m.id;
  }
  return std::nullopt;
}

}  // namespace podserve::openai
