// A Hugging Face tokenizer as a stranger ships it (TOKENIZER_NAME, or a model directory): the input is up to four
// files — tokenizer.json, tokenizer_config.json, generation_config.json, chat_template.jinja — separated by
// kPartSeparator (an absent or empty part: no such file). They are written to a private folder and loaded with
// load_hf_tokenizer, as start-up does; a tokenizer that loads then encodes and decodes a few texts, special
// tokens parsed and not, with and without the post-processor.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/fuzz_common.h"
#include "tokenizer/hf_tokenizer.h"

namespace {

namespace fs = std::filesystem;

const fs::path& folder() {
  static const fs::path dir = [] {
    const char* shm = "/dev/shm";
    fs::path base = fs::is_directory(shm) ? fs::path(shm) : fs::temp_directory_path();
    fs::path d = base / ("podserve-fuzz-tokenizer-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void write_or_remove(const char* name, std::string_view text, bool present) {
  const fs::path p = folder() / name;
  if (!present) {
    std::error_code ec;
    fs::remove(p, ec);
    return;
  }
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(folder(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = podserve::fuzz::split_input(data, size, podserve::fuzz::kPartSeparator, 4);
  const char* names[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja"};
  for (size_t i = 0; i < 4; ++i) {
    const bool present = i < parts.size() && (i == 0 || !parts[i].empty());
    write_or_remove(names[i], present ? parts[i] : std::string_view(), present);
  }
  podserve::Result<podserve::HfTokenizer> tok = podserve::load_hf_tokenizer(folder().string());
  if (!tok.ok()) return 0;
  (void)tok->config.default_chat_template();
  for (std::string_view text : {"Hello world", " a\tb\n\n  c ", "<s>[INST] hi [/INST]</s><|im_start|>x<|eot_id|>",
                                "d\xC3\xA9j\xC3\xA0 \xE2\x96\x81 \xF0\x9F\x98\x80 12345 \xFF\xFE"}) {
    for (int mode = 0; mode < 4; ++mode) {
      const auto ids = tok->tokenizer.encode(text, mode & 1, mode & 2);
      (void)tok->tokenizer.decode(ids, mode & 1);
    }
  }
  return 0;
}
