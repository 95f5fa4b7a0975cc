#include "tokenizer/normalizer.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

namespace podserve::tokenizer_internal {
namespace {

using NormalizerKind = NormalizerStep::Kind;

Result<const icu::Normalizer2*> icu_instance(NormalizerKind kind) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (kind) {
    case NormalizerKind::kNfc: n = icu::Normalizer2::getNFCInstance(err); break;
    case NormalizerKind::kNfd: n = icu::Normalizer2::getNFDInstance(err); break;
    case NormalizerKind::kNfkc: n = icu::Normalizer2::getNFKCInstance(err); break;
    case NormalizerKind::kNfkd: n = icu::Normalizer2::getNFKDInstance(err); break;
    default: return nullptr;
  }
  if (U_FAILURE(err) || n == nullptr) {
    return internal_error(std::string("ICU normalizer unavailable: ") + u_errorName(err));
  }
  return n;
}

bool is_white_space(UChar32 c) { return u_isUWhiteSpace(c) != 0; }

std::string strip(std::string_view text, bool left, bool right) {
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  int32_t begin = 0, end = s.length();
  while (left && begin < end && is_white_space(s.char32At(begin))) begin = s.moveIndex32(begin, 1);
  while (right && end > begin && is_white_space(s.char32At(s.moveIndex32(end, -1)))) end = s.moveIndex32(end, -1);
  std::string out;
  s.tempSubStringBetween(begin, end).toUTF8String(out);
  return out;
}

}  // namespace

void replace_all(std::string_view text, std::string_view pattern, std::string_view content, std::string* out) {
  if (pattern.empty()) {
    out->append(text);
    return;
  }
  size_t pos = 0;
  for (size_t hit; (hit = text.find(pattern, pos)) != std::string_view::npos; pos = hit + pattern.size()) {
    out->append(text.substr(pos, hit - pos));
    out->append(content);
  }
  out->append(text.substr(pos));
}

Result<Normalizer> Normalizer::create(const std::vector<NormalizerStep>& steps) {
  Normalizer n;
  for (const NormalizerStep& spec : steps) {
    Step step{spec, {}, nullptr};
    if (spec.kind == NormalizerKind::kReplaceRegex) {
      PODSERVE_ASSIGN_OR_RETURN(Regex regex, Regex::compile(spec.pattern));
      step.regex.push_back(std::move(regex));
    }
    PODSERVE_ASSIGN_OR_RETURN(const icu::Normalizer2* icu, icu_instance(spec.kind));
    step.icu = icu;
    n.steps_.push_back(std::move(step));
  }
  return n;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string current(text), next;
  for (const Step& step : steps_) {
    next.clear();
    switch (step.spec.kind) {
      case NormalizerKind::kPrepend:
        if (current.empty()) continue;  // HF prepends to non-empty pieces only
        next = step.spec.content + current;
        break;
      case NormalizerKind::kReplace:
        replace_all(current, step.spec.pattern, step.spec.content, &next);
        break;
      case NormalizerKind::kReplaceRegex: {
        std::vector<std::pair<size_t, size_t>> matches;
        step.regex[0].find_all(current, &matches);
        size_t pos = 0;
        for (auto [b, e] : matches) {
          next.append(current, pos, b - pos);
          next.append(step.spec.content);
          pos = e;
        }
        next.append(current, pos);
        break;
      }
      case NormalizerKind::kNfc:
      case NormalizerKind::kNfd:
      case NormalizerKind::kNfkc:
      case NormalizerKind::kNfkd: {
        UErrorCode err = U_ZERO_ERROR;
        const auto* icu = static_cast<const icu::Normalizer2*>(step.icu);
        const icu::UnicodeString in =
            icu::UnicodeString::fromUTF8(icu::StringPiece(current.data(), static_cast<int32_t>(current.size())));
        const icu::UnicodeString out = icu->normalize(in, err);
        if (U_FAILURE(err)) continue;  // keep the text as it is
        out.toUTF8String(next);
        break;
      }
      case NormalizerKind::kLowercase: {
        icu::UnicodeString s =
            icu::UnicodeString::fromUTF8(icu::StringPiece(current.data(), static_cast<int32_t>(current.size())));
        s.toLower(icu::Locale::getRoot());
        s.toUTF8String(next);
        break;
      }
      case NormalizerKind::kStrip:
        next = strip(current, step.spec.strip_left, step.spec.strip_right);
        break;
    }
    current.swap(next);
  }
  return current;
}

}  // namespace podserve::tokenizer_internal
