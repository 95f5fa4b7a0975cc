#include "tokenizer/regex.h"

#include <oniguruma.h>

#include <mutex>
#include <string>

#include "tokenizer/utf8.h"

namespace podserve::tokenizer_internal {
namespace {

void init_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

struct RegionDeleter {
  void operator()(OnigRegion* r) const { onig_region_free(r, 1); }
};

}  // namespace

void Regex::Deleter::operator()(void* reg) const { onig_free(static_cast<regex_t*>(reg)); }

Result<Regex> Regex::compile(std::string_view pattern) {
  init_oniguruma();
  regex_t* reg = nullptr;
  OnigErrorInfo einfo;
  const auto* p = reinterpret_cast<const UChar*>(pattern.data());
  const int rc = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY,
                          &einfo);
  if (rc != ONIG_NORMAL) {
    UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, rc, &einfo);
    return invalid_argument("bad pre-tokenizer regex '" + std::string(pattern) +
                            "': " + reinterpret_cast<const char*>(msg));
  }
  return Regex(reg);
}

void Regex::split_isolated(std::string_view text, std::vector<std::string_view>* out) const {
  std::vector<std::pair<size_t, size_t>> matches;
  find_all(text, &matches);
  size_t gap_start = 0;
  for (auto [mbeg, mend] : matches) {
    if (mbeg > gap_start) out->push_back(text.substr(gap_start, mbeg - gap_start));
    out->push_back(text.substr(mbeg, mend - mbeg));
    gap_start = mend;
  }
  if (gap_start < text.size()) out->push_back(text.substr(gap_start));
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>* out) const {
  auto* reg = static_cast<regex_t*>(reg_.get());
  std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  const auto* str = reinterpret_cast<const UChar*>(text.data());
  const UChar* end = str + text.size();
  size_t search_from = 0;
  while (search_from < text.size()) {
    const int at = onig_search(reg, str, end, str + search_from, end, region.get(), ONIG_OPTION_NONE);
    if (at < 0) break;  // no more matches (or a matcher error: the rest is a gap)
    const auto mbeg = static_cast<size_t>(region->beg[0]);
    const auto mend = static_cast<size_t>(region->end[0]);
    if (mend <= mbeg) {  // empty match: step over one character and search again
      const size_t len = utf8_valid_length(text, mbeg);
      search_from = mbeg + (len ? len : 1);
      continue;
    }
    out->emplace_back(mbeg, mend);
    search_from = mend;
  }
}

}  // namespace podserve::tokenizer_internal
