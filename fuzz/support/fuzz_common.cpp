#include "support/fuzz_common.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/log.h"

namespace podserve::fuzz {
namespace {

std::string from_env(const char* name, const char* configured) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(configured);
}

}  // namespace

std::string model_path() { return from_env("PODSERVE_TEST_MODEL", PODSERVE_FUZZ_MODEL); }
std::string fixtures_path() { return from_env("PODSERVE_FIXTURES", PODSERVE_FUZZ_FIXTURES); }
std::string test_data_path() { return from_env("PODSERVE_TEST_DATA", PODSERVE_FUZZ_TEST_DATA); }

void quiet_logs() { set_log_level(LogLevel::kError); }

std::vector<std::string_view> split_input(const uint8_t* data, size_t size, std::string_view separator,
                                          size_t max_parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + separator.size());
  }
  parts.push_back(rest);
  return parts;
}

void fail(const std::string& property, std::string_view detail) {
  std::fprintf(stderr, "\n==podserve-fuzz== property broken: %s\n", property.c_str());
  if (!detail.empty()) std::fprintf(stderr, "==podserve-fuzz== %.*s\n", static_cast<int>(detail.size()), detail.data());
  std::fflush(stderr);
  std::abort();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("set-up: cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace podserve::fuzz
