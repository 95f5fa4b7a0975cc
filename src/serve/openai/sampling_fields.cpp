#include "serve/openai/sampling_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace podserve::openai {
namespace {

constexpr int64_t kMaxChoices = 256;            // n / best_of: each choice is a sequence in the batch
constexpr int64_t kMaxLogprobsLimit = 1 << 20;  // before the --max-logprobs check, only to keep the int small
std::string num(double v) {
  std::string s = std::to_string(v);
  // Trim "0.500000" to "0.5" for messages.
  while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
    bool dot = s.back() == '.';
    s.pop_back();
    if (dot) break;
  }
  return s;
}

MaybeError read_stop(FieldReader& r, std::vector<std::string>* out) {
  const boost::json::value* v = r.get("stop");
  if (v == nullptr) return std::nullopt;
  auto add = [out](boost::json::string_view s) {
    if (!s.empty()) out->emplace_back(s);  // an empty stop string would end every request at once
  };
  if (v->is_string()) {
    add(v->get_string());
    return std::nullopt;
  }
  if (!v->is_array()) return r.type_error("stop", "a string or a list of strings", *v);
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) return r.type_error("stop", "a string or a list of strings", item);
    add(item.get_string());
  }
  return std::nullopt;
}

MaybeError read_stop_token_ids(FieldReader& r, std::vector<int32_t>* out) {
  const boost::json::value* v = r.get("stop_token_ids");
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return r.type_error("stop_token_ids", "a list of integers", *v);
  for (const auto& item : v->get_array()) {
    int64_t id = 0;
    if (!json_to_int64(item, &id)) return r.type_error("stop_token_ids", "a list of integers", item);
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      return bad_request("stop_token_ids must be valid token ids, got " + std::to_string(id), "stop_token_ids");
    }
    out->push_back(static_cast<int32_t>(id));
  }
  return std::nullopt;
}

/// min_p and the three penalties, with vLLM's ranges and messages.
MaybeError read_penalties(FieldReader& r, SamplingParams* s) {
  std::optional<double> d;
  if (auto e = r.get_number("min_p", &d)) return e;
  if (d) {
    if (!(*d >= 0 && *d <= 1)) return bad_request("min_p must be in [0, 1], got " + num(*d) + ".", "min_p");
    s->min_p = static_cast<float>(*d);
  }
  for (auto [key, field] : {std::pair{"presence_penalty", &SamplingParams::presence_penalty},
                            std::pair{"frequency_penalty", &SamplingParams::frequency_penalty}}) {
    d.reset();
    if (auto e = r.get_number(key, &d)) return e;
    if (!d) continue;
    if (!(*d >= -2 && *d <= 2)) {
      return bad_request(std::string(key) + " must be in [-2, 2], got " + num(*d) + ".", key);
    }
    s->*field = static_cast<float>(*d);
  }
  d.reset();
  if (auto e = r.get_number("repetition_penalty", &d)) return e;
  if (d) {
    if (!(*d > 0) || *d > 1e6) {
      return bad_request("repetition_penalty must be greater than zero, got " + num(*d) + ".",
                         "repetition_penalty");
    }
    s->repetition_penalty = static_cast<float>(*d);
  }
  return std::nullopt;
}

MaybeError read_n_best_of(FieldReader& r, SamplingParams* s) {
  std::optional<int64_t> n, best_of;
  if (auto e = r.get_int("n", &n)) return e;
  if (n && *n < 1) return bad_request("n must be at least 1, got " + std::to_string(*n) + ".", "n");
  if (n && *n > kMaxChoices) {
    return bad_request("n must be at most " + std::to_string(kMaxChoices) + ", got " + std::to_string(*n) + ".",
                       "n");
  }
  if (auto e = r.get_int("best_of", &best_of)) return e;
  s->n = n ? static_cast<int>(*n) : 1;
  if (best_of) {
    if (*best_of < s->n) {
      return bad_request("best_of must be greater than or equal to n, got n=" + std::to_string(s->n) +
                             " and best_of=" + std::to_string(*best_of) + ".",
                         "best_of");
    }
    if (*best_of > kMaxChoices) {
      return bad_request("best_of must be at most " + std::to_string(kMaxChoices) + ", got " +
                             std::to_string(*best_of) + ".",
                         "best_of");
    }
  }
  s->best_of = best_of ? static_cast<int>(*best_of) : s->n;
  return std::nullopt;
}

/// logit_bias: {"<token id>": bias}; biases are clamped to [-100, 100] as vLLM does. Ids are range-checked
/// against the vocabulary later (check_model_limits).
MaybeError read_logit_bias(FieldReader& r, std::vector<std::pair<int32_t, float>>* out) {
  std::optional<boost::json::object> obj;
  if (auto e = r.get_object("logit_bias", &obj)) return e;
  if (!obj) return std::nullopt;
  for (const auto& kv : *obj) {
    const std::string key(kv.key());
    int64_t id = 0;
    const char* end = key.data() + key.size();
    auto [ptr, ec] = std::from_chars(key.data(), end, id);
    if (key.empty() || ec != std::errc() || ptr != end) {
      return bad_request("Found token_id `" + key +
                             "` in logit_bias but token_id must be an integer or string representing an integer",
                         "logit_bias");
    }
    const boost::json::value& v = kv.value();
    if (!v.is_number()) return r.type_error("logit_bias", "an object of numbers", v);
    const double bias = v.is_double()  ? v.get_double()
                        : v.is_int64() ? static_cast<double>(v.get_int64())
                                       : static_cast<double>(v.get_uint64());
    if (!std::isfinite(bias)) return bad_request("logit_bias values must be finite numbers", "logit_bias");
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      return bad_request("token_id(s) [" + key + "] in logit_bias contain out-of-vocab token ids.", "logit_bias");
    }
    out->emplace_back(static_cast<int32_t>(id), static_cast<float>(std::clamp(bias, -100.0, 100.0)));
  }
  return std::nullopt;
}

}  // namespace

MaybeError read_logprobs(FieldReader& r, bool chat, SamplingParams* s) {
  std::optional<int64_t> n;
  if (chat) {
    bool logprobs = false;
    if (auto e = r.get_bool("logprobs", &logprobs)) return e;
    if (auto e = r.get_int("top_logprobs", &n)) return e;
    if (n && *n < 0) return bad_request("`top_logprobs` must be a positive value.", "top_logprobs");
    if (n && *n > 0 && !logprobs) {
      return bad_request("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs");
    }
    if (logprobs) s->logprobs = static_cast<int>(std::min<int64_t>(n.value_or(0), kMaxLogprobsLimit));
  } else {
    if (auto e = r.get_int("logprobs", &n)) return e;
    if (n && *n < 0) return bad_request("`logprobs` must be a positive value.", "logprobs");
    if (n) s->logprobs = static_cast<int>(std::min<int64_t>(*n, kMaxLogprobsLimit));
  }
  n.reset();
  if (auto e = r.get_int("prompt_logprobs", &n)) return e;
  if (n && *n < 0) return bad_request("`prompt_logprobs` must be a positive value.", "prompt_logprobs");
  if (n) s->prompt_logprobs = static_cast<int>(std::min<int64_t>(*n, kMaxLogprobsLimit));
  return std::nullopt;
}

MaybeError read_sampling(FieldReader& r, CommonRequest* c) {
  SamplingParams& s = c->sampling;
  std::optional<double> d;
  if (auto e = r.get_number("temperature", &d)) return e;
  if (d) {
    if (*d < 0) return bad_request("temperature must be non-negative, got " + num(*d) + ".", "temperature");
    s.temperature = static_cast<float>(*d);
  }
  d.reset();
  if (auto e = r.get_number("top_p", &d)) return e;
  if (d) {
    if (!(*d > 0 && *d <= 1)) return bad_request("top_p must be in (0, 1], got " + num(*d) + ".", "top_p");
    s.top_p = static_cast<float>(*d);
  }
  std::optional<int64_t> i;
  if (auto e = r.get_int("top_k", &i)) return e;
  if (i) {
    if (*i < -1 || *i > std::numeric_limits<int>::max()) {
      return bad_request("top_k must be 0 (disable), or at least 1, got " + std::to_string(*i) + ".", "top_k");
    }
    s.top_k = *i == -1 ? 0 : static_cast<int>(*i);
  }
  if (auto e = read_penalties(r, &s)) return e;

  for (std::string_view key : {"max_tokens", "max_completion_tokens"}) {
    i.reset();
    if (auto e = r.get_int(key, &i)) return e;
    if (!i) continue;
    if (*i < (c->echo ? 0 : 1)) {  // echo with max_tokens 0 answers the echo only
      return bad_request(std::string(key) + " must be at least 1, got " + std::to_string(*i) + ".",
                         std::string(key));
    }
    c->max_tokens = *i;  // max_completion_tokens (read second) wins, as in vLLM
  }
  i.reset();
  if (auto e = r.get_int("min_tokens", &i)) return e;
  if (i) {
    if (*i < 0) return bad_request("min_tokens must be greater than or equal to 0, got " + std::to_string(*i) + ".",
                                   "min_tokens");
    if (c->max_tokens && *i > *c->max_tokens) {
      return bad_request("min_tokens must be less than or equal to max_tokens=" + std::to_string(*c->max_tokens) +
                             ", got " + std::to_string(*i) + ".",
                         "min_tokens");
    }
    s.min_tokens = static_cast<int>(std::min<int64_t>(*i, std::numeric_limits<int>::max()));
  }
  i.reset();
  if (auto e = r.get_int("seed", &i)) return e;
  if (i) s.seed = static_cast<uint64_t>(*i);

  if (auto e = read_n_best_of(r, &s)) return e;
  if (auto e = read_logit_bias(r, &s.logit_bias)) return e;

  if (auto e = read_stop(r, &s.stop)) return e;
  if (auto e = read_stop_token_ids(r, &s.stop_token_ids)) return e;
  if (auto e = r.get_bool("ignore_eos", &s.ignore_eos)) return e;
  if (auto e = r.get_bool("skip_special_tokens", &s.skip_special_tokens)) return e;
  if (auto e = r.get_bool("include_stop_str_in_output", &s.include_stop_str_in_output)) return e;
  return std::nullopt;
}

MaybeError check_model_limits(const SamplingParams& s, bool chat, int vocab_size, int max_logprobs) {
  if (s.logprobs && *s.logprobs > max_logprobs) {
    return bad_request("Requested sample logprobs of " + std::to_string(*s.logprobs) +
                           ", which is greater than max allowed: " + std::to_string(max_logprobs),
                       chat ? "top_logprobs" : "logprobs");
  }
  if (s.prompt_logprobs && *s.prompt_logprobs > max_logprobs) {
    return bad_request("Requested prompt logprobs of " + std::to_string(*s.prompt_logprobs) +
                           ", which is greater than max allowed: " + std::to_string(max_logprobs),
                       "prompt_logprobs");
  }
  std::string bad_ids;
  for (const auto& [id, bias] : s.logit_bias) {
    if (id >= 0 && id < vocab_size) continue;
    bad_ids += (bad_ids.empty() ? "" : ", ") + std::to_string(id);
  }
  if (!bad_ids.empty()) {
    return bad_request("token_id(s) [" + bad_ids + "] in logit_bias contain out-of-vocab token ids. Vocabulary size: " +
                           std::to_string(vocab_size),
                       "logit_bias");
  }
  return std::nullopt;
}

}  // namespace podserve::openai
