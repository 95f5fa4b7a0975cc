// Writing xgrammar-dialect EBNF text: quoted literals, character classes over code-point sets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::structured {

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

/// A set of Unicode code points as sorted, disjoint, non-adjacent closed intervals.
class CodepointSet {
 public:
  struct Range {
    uint32_t lo;
    uint32_t hi;
  };
  CodepointSet() = default;
  static CodepointSet of(uint32_t lo, uint32_t hi) {
    CodepointSet s;
    s.add(lo, hi);
    return s;
  }
  void add(uint32_t lo, uint32_t hi);
  void add(const CodepointSet& other);
  CodepointSet complement() const;
  CodepointSet minus(const CodepointSet& other) const;
  bool empty() const { return ranges_.empty(); }
  bool contains(uint32_t cp) const;
  const std::vector<Range>& ranges() const { return ranges_; }

 private:
  std::vector<Range> ranges_;
};

/// `"text"` with `"`, `\` and control characters escaped; other UTF-8 is copied as is.
std::string ebnf_literal(std::string_view utf8);
/// `[...]` matching exactly `set` (which must not be empty); `[^...]` when that is shorter.
std::string ebnf_class(const CodepointSet& set);

}  // namespace podserve::structured
