// HF normalizers (Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip) applied in sequence to one piece of
// text. Unicode normalization and lowercasing use ICU.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace podserve::tokenizer_internal {

class Normalizer {
 public:
  /// Compiles the steps (regex patterns, ICU instances); a bad step is InvalidArgument.
  static Result<Normalizer> create(const std::vector<NormalizerStep>& steps);

  bool empty() const { return steps_.empty(); }
  /// The normalized form of `text` (valid UTF-8).
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    NormalizerStep spec;
    std::vector<Regex> regex;  // 0 or 1 (Regex is move-only)
    const void* icu = nullptr;  // icu::Normalizer2*, owned by ICU
  };
  std::vector<Step> steps_;
};

/// Appends `text` with every occurrence of `pattern` replaced by `content`.
void replace_all(std::string_view text, std::string_view pattern, std::string_view content, std::string* out);

}  // namespace podserve::tokenizer_internal
