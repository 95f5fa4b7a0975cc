#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace podserve::testing {
namespace {
std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set; run the tests through ctest (make test)";
    return "";
  }
  return v;
}
}  // namespace

std::string model_path() { return env_or_fail("PODSERVE_TEST_MODEL"); }
std::string fixtures_dir() { return env_or_fail("PODSERVE_FIXTURES"); }
std::string test_data_dir() { return env_or_fail("PODSERVE_TEST_DATA"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace podserve::testing
