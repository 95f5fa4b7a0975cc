#include "tokenizer/pre_tokenizer.h"

#include <array>
#include <string>

namespace podserve::tokenizer_internal {
namespace {

// HF `ByteLevel(use_regex=true)` (pre_tokenizers/byte_level.rs), including the final `|\s+` that
// llama.cpp's copy omits.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// HF `Digits(individual_digits=true)`: every numeric character (Rust char::is_numeric = \p{N}) alone.
constexpr std::string_view kIndividualDigitsRegex = R"(\p{N})";

struct PreTokenizerSpec {
  std::string_view id;
  std::array<std::string_view, 2> patterns;  // applied in order; empty entries unused
  bool ignore_merges;
};

constexpr PreTokenizerSpec kSpecs[] = {
    {"default", {kGpt2Regex, {}}, false},
    {"gpt-2", {kGpt2Regex, {}}, false},
    // SmolLM2: Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false, use_regex=true)].
    {"smollm", {kIndividualDigitsRegex, kGpt2Regex}, false},
};

}  // namespace

Result<PreTokenizer> PreTokenizer::create(std::string_view pre) {
  if (pre.empty()) pre = "default";
  for (const PreTokenizerSpec& spec : kSpecs) {
    if (spec.id != pre) continue;
    std::vector<Regex> regexes;
    for (std::string_view pattern : spec.patterns) {
      if (pattern.empty()) continue;
      PODSERVE_ASSIGN_OR_RETURN(Regex regex, Regex::compile(pattern));
      regexes.push_back(std::move(regex));
    }
    return PreTokenizer(std::move(regexes), spec.ignore_merges);
  }
  std::string known;
  for (const PreTokenizerSpec& spec : kSpecs) known += (known.empty() ? "" : ", ") + std::string(spec.id);
  return invalid_argument("unsupported pre-tokenizer '" + std::string(pre) + "' (supported: " + known + ")");
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* out) const {
  if (text.empty()) return;
  std::vector<std::string_view> current{text}, next;
  for (const Regex& regex : regexes_) {
    next.clear();
    for (std::string_view piece : current) regex.split_isolated(piece, &next);
    current.swap(next);
  }
  out->insert(out->end(), current.begin(), current.end());
}

}  // namespace podserve::tokenizer_internal
