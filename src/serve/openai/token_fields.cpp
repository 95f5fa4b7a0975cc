#include "serve/openai/token_fields.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "tokenizer/tokenizer.h"

namespace podserve::openai {
namespace {

// vLLM's VLLM_MAX_NUM_BAD_WORDS default: token sequences after tokenization.
constexpr size_t kMaxBadWords = 128;

/// Python's str.lstrip(): leading whitespace removed (ASCII whitespace and the separators vLLM's users meet).
std::string lstrip(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' ||
                          s[i] == '\f')) {
    ++i;
  }
  return s.substr(i);
}

}  // namespace

MaybeError read_token_fields(FieldReader& r, CommonRequest* c) {
  if (const boost::json::value* v = r.get("allowed_token_ids")) {
    if (!v->is_array()) return r.type_error("allowed_token_ids", "a list of integers", *v);
    std::vector<int64_t> ids;
    for (const auto& item : v->get_array()) {
      int64_t id = 0;
      if (!json_to_int64(item, &id)) return r.type_error("allowed_token_ids", "a list of integers", item);
      ids.push_back(id);
    }
    if (ids.empty()) return bad_request("allowed_token_ids is not None and empty!", "allowed_token_ids");
    c->allowed_token_ids = std::move(ids);
  }
  if (const boost::json::value* v = r.get("bad_words")) {
    if (!v->is_array()) return r.type_error("bad_words", "a list of strings", *v);
    for (const auto& item : v->get_array()) {
      if (!item.is_string()) return r.type_error("bad_words", "a list of strings", item);
      std::string word(item.get_string());
      // vLLM keeps the first of repeated words (dict.fromkeys).
      if (std::find(c->bad_words.begin(), c->bad_words.end(), word) == c->bad_words.end()) {
        c->bad_words.push_back(std::move(word));
      }
    }
  }
  if (r.get("return_tokens_as_token_ids") != nullptr) {
    bool as_ids = false;
    if (auto e = r.get_bool("return_tokens_as_token_ids", &as_ids)) return e;
    c->return_tokens_as_token_ids = as_ids;
  }
  if (auto e = r.get_bool("return_token_ids", &c->return_token_ids)) return e;
  std::optional<int64_t> priority;
  if (auto e = r.get_int("priority", &priority)) return e;
  if (priority) {
    if (*priority < std::numeric_limits<int>::min() || *priority > std::numeric_limits<int>::max()) {
      return bad_request("priority must be a 32-bit integer, got " + std::to_string(*priority), "priority");
    }
    c->priority = static_cast<int>(*priority);
  }
  return std::nullopt;
}

void apply_priority_header(std::string_view header, CommonRequest* c) {
  int value = 0;
  const char* end = header.data() + header.size();
  auto [ptr, ec] = std::from_chars(header.data(), end, value);
  if (!header.empty() && ec == std::errc() && ptr == end) c->priority = value;
}

std::optional<ApiError> apply_token_fields(const CommonRequest& c, const Tokenizer& tokenizer, int vocab_size,
                                           SamplingParams* out) {
  out->priority = c.priority;
  if (c.allowed_token_ids) {
    for (int64_t id : *c.allowed_token_ids) {
      if (id < 0 || id >= vocab_size) {
        return bad_request("allowed_token_ids contains out-of-vocab token id!", "allowed_token_ids");
      }
      out->allowed_token_ids.push_back(static_cast<int32_t>(id));
    }
    std::sort(out->allowed_token_ids.begin(), out->allowed_token_ids.end());
    out->allowed_token_ids.erase(std::unique(out->allowed_token_ids.begin(), out->allowed_token_ids.end()),
                                 out->allowed_token_ids.end());
  }
  std::vector<std::vector<int32_t>>& words = out->bad_words_token_ids;
  for (const std::string& word : c.bad_words) {
    // The word at the start of the text and after a space: both tokenizations, unless the spaced one only
    // differs by a token of its own (then the bare one covers it), as vLLM's update_from_tokenizer.
    for (bool prefix_space : {false, true}) {
      std::vector<int32_t> ids = tokenizer.encode((prefix_space ? " " : "") + lstrip(word), false, true);
      if (ids.empty()) {
        if (!prefix_space) {
          return bad_request("bad_words entries must tokenize to at least one token.", "bad_words");
        }
        continue;
      }
      if (prefix_space && (ids[0] == words.back()[0] || ids.size() != words.back().size())) continue;
      words.push_back(std::move(ids));
      if (words.size() > kMaxBadWords) {
        return bad_request("Too many bad words after tokenization: " + std::to_string(words.size()) +
                               ". The max number is " + std::to_string(kMaxBadWords) + ".",
                           "bad_words");
      }
    }
  }
  std::vector<int32_t> invalid;
  for (const auto& ids : words) {
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size) invalid.push_back(id);
    }
  }
  if (!invalid.empty()) {
    std::string list;
    for (int32_t id : invalid) list += (list.empty() ? "" : ", ") + std::to_string(id);
    return bad_request("The model vocabulary size is " + std::to_string(vocab_size) +
                           ", but the following tokens were specified as bad: [" + list +
                           "]. All token id values should be integers satisfying: 0 <= token_id <= " +
                           std::to_string(vocab_size - 1) + ".",
                       "bad_words");
  }
  return std::nullopt;
}

}  // namespace podserve::openai
