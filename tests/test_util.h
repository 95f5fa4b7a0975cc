// Shared helpers for the C++ test tiers: where the fixtures, goldens and model live.
#pragma once

#include <string>

namespace podserve::testing {

/// Path of the default GGUF model (env PODSERVE_TEST_MODEL, set by CTest).
std::string model_path();
/// ../shared/fixtures (env PODSERVE_FIXTURES).
std::string fixtures_dir();
/// tests/data (env PODSERVE_TEST_DATA): committed goldens made by tools/make_goldens.py.
std::string test_data_dir();
/// Whole file as a string; fails the current test (and returns "") if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace podserve::testing
