#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <utility>

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"

namespace podserve::tokenizer_internal {
namespace {

using PreTokenizerKind = PreTokenizerStep::Kind;
using Prepend = PreTokenizerStep::Prepend;

struct Segment {
  size_t begin, end;
  bool is_match;
};

// Matches and the gaps between them, covering `text` (HF `find_matches`).
std::vector<Segment> segments(std::string_view text, const std::vector<std::pair<size_t, size_t>>& matches,
                              bool invert) {
  std::vector<Segment> out;
  size_t pos = 0;
  for (auto [b, e] : matches) {
    if (b > pos) out.push_back({pos, b, invert});
    out.push_back({b, e, !invert});
    pos = e;
  }
  if (pos < text.size()) out.push_back({pos, text.size(), invert});
  return out;
}

// HF `NormalizedString::split` with a delimiter behaviour: which segments become pieces, merged how.
std::vector<std::pair<size_t, size_t>> combine(const std::vector<Segment>& segs, SplitBehavior behavior) {
  std::vector<std::pair<size_t, size_t>> out;
  if (behavior == SplitBehavior::kMergedWithNext) {  // the mirror image of MergedWithPrevious
    bool next_match = false;
    for (auto s = segs.rbegin(); s != segs.rend(); ++s) {
      if (s->is_match && !next_match && !out.empty()) {
        out.back().first = s->begin;
      } else {
        out.emplace_back(s->begin, s->end);
      }
      next_match = s->is_match;
    }
    std::reverse(out.begin(), out.end());
    return out;
  }
  bool previous_match = false;
  for (const Segment& s : segs) {
    switch (behavior) {
      case SplitBehavior::kRemoved:
        if (!s.is_match) out.emplace_back(s.begin, s.end);
        break;
      case SplitBehavior::kIsolated:
        out.emplace_back(s.begin, s.end);
        break;
      case SplitBehavior::kMergedWithPrevious:
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        break;
      case SplitBehavior::kMergedWithNext:
        break;  // below: it runs right to left
      case SplitBehavior::kContiguous:
        if (s.is_match == previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        break;
    }
    previous_match = s.is_match;
  }
  return out;
}

void literal_matches(std::string_view text, std::string_view pattern, std::vector<std::pair<size_t, size_t>>* out) {
  if (pattern.empty()) return;
  for (size_t pos = 0; (pos = text.find(pattern, pos)) != std::string_view::npos; pos += pattern.size()) {
    out->emplace_back(pos, pos + pattern.size());
  }
}

void emit(const PreTokenizer::Piece& piece, const std::vector<std::pair<size_t, size_t>>& ranges,
          std::vector<PreTokenizer::Piece>* out) {
  for (auto [b, e] : ranges) {
    if (e > b) out->push_back({piece.text.substr(b, e - b), piece.at_start && b == 0});
  }
}

}  // namespace

Result<PreTokenizer> PreTokenizer::create(const std::vector<PreTokenizerStep>& steps) {
  PreTokenizer p;
  for (const PreTokenizerStep& spec : steps) {
    Step step{spec, {}};
    std::string_view pattern;
    if (spec.kind == PreTokenizerKind::kSplit && spec.pattern_is_regex) pattern = spec.pattern;
    if (spec.kind == PreTokenizerKind::kByteLevel && spec.use_regex) pattern = kGpt2Regex;
    if (spec.kind == PreTokenizerKind::kDigits) pattern = spec.individual_digits ? R"(\p{N})" : R"(\p{N}+)";
    if (!pattern.empty()) {
      PODSERVE_ASSIGN_OR_RETURN(Regex regex, Regex::compile(pattern));
      step.regex.push_back(std::move(regex));
    }
    if (spec.kind == PreTokenizerKind::kByteLevel) p.byte_level_ = true;
    p.steps_.push_back(std::move(step));
  }
  return p;
}

void PreTokenizer::apply(const Step& step, Piece piece, std::vector<Piece>* out) const {
  const PreTokenizerStep& s = step.spec;
  std::vector<std::pair<size_t, size_t>> matches;
  switch (s.kind) {
    case PreTokenizerKind::kSplit:
      if (s.pattern_is_regex) {
        step.regex[0].find_all(piece.text, &matches);
      } else {
        literal_matches(piece.text, s.pattern, &matches);
      }
      emit(piece, combine(segments(piece.text, matches, s.invert), s.behavior), out);
      return;
    case PreTokenizerKind::kDigits:
      step.regex[0].find_all(piece.text, &matches);
      emit(piece, combine(segments(piece.text, matches, false), SplitBehavior::kIsolated), out);
      return;
    case PreTokenizerKind::kByteLevel: {
      if (s.add_prefix_space && piece.text.front() != ' ') piece.text.insert(0, 1, ' ');
      std::vector<Piece> parts;
      if (s.use_regex) {
        step.regex[0].find_all(piece.text, &matches);
        emit(piece, combine(segments(piece.text, matches, false), SplitBehavior::kIsolated), &parts);
      } else {
        parts.push_back(std::move(piece));
      }
      for (Piece& part : parts) {
        std::string spelled;
        bytes_to_byte_level(part.text, &spelled);
        out->push_back({std::move(spelled), part.at_start});
      }
      return;
    }
    case PreTokenizerKind::kMetaspace: {
      std::string text;
      replace_all(piece.text, " ", s.replacement, &text);
      const bool starts = text.compare(0, s.replacement.size(), s.replacement) == 0;
      if (!starts && (s.prepend_scheme == Prepend::kAlways || (s.prepend_scheme == Prepend::kFirst && piece.at_start))) {
        text.insert(0, s.replacement);
      }
      Piece rewritten{std::move(text), piece.at_start};
      if (!s.split) {
        out->push_back(std::move(rewritten));
        return;
      }
      literal_matches(rewritten.text, s.replacement, &matches);
      emit(rewritten, combine(segments(rewritten.text, matches, false), SplitBehavior::kMergedWithNext), out);
      return;
    }
  }
}

void PreTokenizer::split(std::string_view text, bool at_start, std::vector<std::string>* out) const {
  if (text.empty()) return;
  std::vector<Piece> current, next;
  current.push_back({std::string(text), at_start});
  for (const Step& step : steps_) {
    next.clear();
    for (Piece& piece : current) apply(step, std::move(piece), &next);
    current.swap(next);
  }
  for (Piece& piece : current) out->push_back(std::move(piece.text));
}

}  // namespace podserve::tokenizer_internal
