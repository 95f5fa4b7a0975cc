// Raw bytes as a GGUF model file, through everything `podserve serve` does with one at start-up: the GGUF reader
// (header, metadata, tensor infos, alignment, data bounds), the vocabulary and tokenizer built from it, the chat
// template string, and the architecture's hyper-parameters and weight binding (load_gguf_model). The bytes are
// parsed where libFuzzer holds them (an exact-size heap buffer, so ASan sees any read past the end) rather than
// through a file mapping.
#include <cstddef>
#include <cstdint>

#include "support/fuzz_common.h"
#include "support/gguf_load.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  podserve::Result<podserve::GgufFile> file = podserve::GgufFile::parse(data, size, "fuzz.gguf");
  if (file.ok()) podserve::fuzz::load_and_use_gguf(std::move(file).value());
  return 0;
}
