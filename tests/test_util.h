// Shared helpers for the C++ test tiers: where the fixtures, goldens and model live.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace podserve::testing {

/// Path of the default GGUF model (env PODSERVE_TEST_MODEL, set by CTest).
std::string model_path();
/// ../shared/fixtures (env PODSERVE_FIXTURES).
std::string fixtures_dir();
/// tests/data (env PODSERVE_TEST_DATA): committed goldens made by tools/make_goldens.py.
std::string test_data_dir();
/// Whole file as a string; fails the current test (and returns "") if it cannot be read.
std::string read_file(const std::string& path);

/// A fake process environment for config parsers (their EnvLookup): `vars` and nothing else.
inline std::function<std::optional<std::string>(std::string_view)> env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace podserve::testing
