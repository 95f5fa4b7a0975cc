#include "worker/worker_config.h"

#include <algorithm>
#include <charconv>
#include <random>

namespace podserve::worker {
namespace {

Status bad_env(std::string_view name, const std::string& value, std::string_view expected) {
  return invalid_argument("Invalid value '" + value + "' for " + std::string(name) + ": expected " +
                          std::string(expected));
}

/// The first of `names` that is set and not empty.
std::optional<std::pair<std::string_view, std::string>> first_set(const EnvLookup& env,
                                                                  std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    std::optional<std::string> v = env(n);
    if (v && !v->empty()) return std::make_pair(n, *v);
  }
  return std::nullopt;
}

Status read_number(const EnvLookup& env, std::initializer_list<std::string_view> names, double lo, bool integer,
                   double* out) {
  auto v = first_set(env, names);
  if (!v) return ok_status();
  const std::string& text = v->second;
  double d = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, d);
  if (ec != std::errc() || ptr != end || d < lo || (integer && d != static_cast<double>(static_cast<int64_t>(d))) ||
      d > 1e9) {
    return bad_env(v->first, text, std::string(integer ? "an integer" : "a number") + " >= " +
                                       std::to_string(static_cast<int>(lo)));
  }
  *out = d;
  return ok_status();
}

std::string random_worker_id() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += kHex[rng() % 16];
  return id;
}

}  // namespace

Result<WorkerConfig> parse_worker_config(const EnvLookup& env) {
  WorkerConfig c;
  auto str = [&](std::string_view name, std::string fallback) {
    std::optional<std::string> v = env(name);
    return v && !v->empty() ? *v : fallback;
  };
  c.get_job_url = str("RUNPOD_WEBHOOK_GET_JOB", "");
  c.post_output_url = str("RUNPOD_WEBHOOK_POST_OUTPUT", "JOB_DONE_URL");  // the SDK's placeholders
  c.post_stream_url = str("RUNPOD_WEBHOOK_POST_STREAM", "JOB_STREAM_URL");
  c.ping_url = str("RUNPOD_WEBHOOK_PING", "");
  if (c.ping_url == "PING_NOT_SET") c.ping_url.clear();
  c.api_key = str("RUNPOD_AI_API_KEY", "");
  c.worker_id = str("RUNPOD_POD_ID", "");
  if (c.worker_id.empty()) c.worker_id = random_worker_id();

  double d = c.ping_interval_ms;
  if (Status st = read_number(env, {"RUNPOD_PING_INTERVAL"}, 100, true, &d); !st.ok()) return st;
  c.ping_interval_ms = static_cast<int>(d);
  d = c.max_concurrency;
  if (Status st = read_number(env, {"MAX_CONCURRENCY"}, 1, true, &d); !st.ok()) return st;
  c.max_concurrency = static_cast<int>(std::min(d, 10000.0));
  // The worker's code reads the short names; its docs and hub list the DEFAULT_-prefixed ones: accept both.
  if (Status st = read_number(env, {"DEFAULT_BATCH_SIZE"}, 1, true, &c.batch.max); !st.ok()) return st;
  if (Status st = read_number(env, {"MIN_BATCH_SIZE", "DEFAULT_MIN_BATCH_SIZE"}, 1, true, &c.batch.min); !st.ok()) {
    return st;
  }
  if (Status st = read_number(env, {"BATCH_SIZE_GROWTH_FACTOR", "DEFAULT_BATCH_SIZE_GROWTH_FACTOR"}, 1, false,
                              &c.batch.growth);
      !st.ok()) {
    return st;
  }
  if (auto v = first_set(env, {"RAW_OPENAI_OUTPUT"})) {
    std::string lower = v->second;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(lower.data(), lower.data() + lower.size(), n);
    if (lower == "true") {
      c.raw_openai_output = true;
    } else if (lower == "false") {
      c.raw_openai_output = false;
    } else if (ec == std::errc() && ptr == lower.data() + lower.size()) {
      c.raw_openai_output = n != 0;  // the worker's bool(int(v))
    } else {
      return bad_env("RAW_OPENAI_OUTPUT", v->second, "true, false or an integer");
    }
  }
  return c;
}

std::string fill_url(std::string_view url_template, std::string_view worker_id, std::string_view id) {
  std::string out(url_template);
  auto replace_all = [&out](std::string_view from, std::string_view to) {
    for (size_t pos = out.find(from); pos != std::string::npos; pos = out.find(from, pos + to.size())) {
      out.replace(pos, from.size(), to);
    }
  };
  replace_all("$RUNPOD_POD_ID", worker_id);
  replace_all("$ID", id);
  return out;
}

std::string append_query(std::string url, std::string_view param) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += param;
  return url;
}

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : value) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

}  // namespace podserve::worker
