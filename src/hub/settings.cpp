#include "hub/settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace podserve::hub {
namespace {

std::optional<std::string> get(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

std::string trim(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

Status read_seconds(const EnvLookup& env, std::string_view name, double* out) {
  auto v = get(env, name);
  if (!v) return ok_status();
  char* end = nullptr;
  const double seconds = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || !(seconds > 0) || seconds > 86400) {
    return invalid_argument(std::string(name) + "='" + *v + "' is not a number of seconds in (0, 86400]");
  }
  *out = seconds;
  return ok_status();
}

}  // namespace

bool env_true(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string v = trim(*value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

Result<HubSettings> hub_settings_from_env(const EnvLookup& env) {
  HubSettings s;
  if (auto endpoint = get(env, "HF_ENDPOINT")) {
    std::string e = trim(*endpoint);
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (!e.starts_with("http://") && !e.starts_with("https://")) {
      return invalid_argument("HF_ENDPOINT='" + *endpoint + "' must start with http:// or https://");
    }
    s.endpoint = e;
  }
  const std::string home = get(env, "HOME").value_or("/root");
  const std::string xdg = get(env, "XDG_CACHE_HOME").value_or(home + "/.cache");
  const std::optional<std::string> hf_home = get(env, "HF_HOME");
  const std::string hf_home_or_default = hf_home.value_or(xdg + "/huggingface");
  const std::optional<std::string> base_path = get(env, "BASE_PATH");
  const std::optional<std::string> base_cache =
      base_path ? std::optional<std::string>(*base_path + "/huggingface-cache/hub") : std::nullopt;

  if (auto v = get(env, "HF_HUB_CACHE")) {
    s.cache_dir = *v;
  } else if (auto legacy = get(env, "HUGGINGFACE_HUB_CACHE")) {
    s.cache_dir = *legacy;
  } else if (hf_home) {
    s.cache_dir = *hf_home + "/hub";
  } else if (base_cache) {
    s.cache_dir = *base_cache;
  } else {
    s.cache_dir = hf_home_or_default + "/hub";
  }
  s.lookup_dirs.push_back(s.cache_dir);
  if (base_cache && *base_cache != s.cache_dir) s.lookup_dirs.push_back(*base_cache);

  if (auto token = get(env, "HF_TOKEN")) {
    s.token = trim(*token);
  } else if (auto legacy_token = get(env, "HUGGING_FACE_HUB_TOKEN")) {
    s.token = trim(*legacy_token);
  } else {
    const std::string path = get(env, "HF_TOKEN_PATH").value_or(hf_home_or_default + "/token");
    std::ifstream f(path);
    if (f) {
      std::stringstream content;
      content << f.rdbuf();
      s.token = trim(content.str());
    }
  }
  const bool printable = std::all_of(s.token.begin(), s.token.end(), [](char c) { return c > ' ' && c < 127; });
  if (!printable) return invalid_argument("HF_TOKEN contains spaces or non-ASCII characters (not a Hub token)");
  s.offline = env_true(get(env, "HF_HUB_OFFLINE")) || env_true(get(env, "TRANSFORMERS_OFFLINE"));
  PODSERVE_RETURN_IF_ERROR(read_seconds(env, "HF_HUB_ETAG_TIMEOUT", &s.metadata_timeout_s));
  PODSERVE_RETURN_IF_ERROR(read_seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT", &s.stall_timeout_s));
  if (auto retries = get(env, "PODSERVE_HUB_MAX_RETRIES")) {
    char* end = nullptr;
    const long n = std::strtol(retries->c_str(), &end, 10);
    if (end == retries->c_str() || *end != '\0' || n < 0 || n > 100) {
      return invalid_argument("PODSERVE_HUB_MAX_RETRIES='" + *retries + "' is not an integer in 0..100");
    }
    s.max_retries = static_cast<int>(n);
  }
  return s;
}

}  // namespace podserve::hub
