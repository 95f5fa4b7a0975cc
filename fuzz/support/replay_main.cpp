// The fuzz targets without libFuzzer: the same LLVMFuzzerTestOneInput, linked with this driver by the normal
// (GCC) presets, runs every file of the directories (or files) it is given once, in name order. CTest registers
// one per target over its committed corpus and crash regressions (fuzz/CMakeLists.txt), so the unit tier replays
// them in release and under ASan + UBSan (make test-asan) without a second, clang build. A crash, a sanitizer
// report or a broken property (fuzz::fail aborts) fails the test; the input being run is printed first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...: runs each input once through the fuzz target\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path p(argv[i]);
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p)) {
        if (e.is_regular_file()) inputs.push_back(e.path());
      }
    } else if (fs::is_regular_file(p)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  for (const fs::path& p : inputs) {
    std::fprintf(stderr, "replay %s\n", p.c_str());
    const std::string bytes = podserve::fuzz::read_file(p.string());
    // A heap copy of the exact size, as libFuzzer passes it: ASan sees a read past the end.
    std::unique_ptr<uint8_t[]> data(new uint8_t[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), data.get());
    LLVMFuzzerTestOneInput(data.get(), bytes.size());
  }
  std::printf("%zu inputs replayed, no finding\n", inputs.size());
  return 0;
}
