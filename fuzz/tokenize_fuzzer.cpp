// Prompt text through real vocabularies: the SmolLM2 GGUF's (byte-level BPE from GGUF metadata, the default
// model) and the fixture tokenizers (Llama 2: SentencePiece BPE with byte fallback; Llama 3.1: byte-level with
// ignore_merges; Qwen3: NFC normalizer; Gemma 3: 262k SentencePiece vocabulary). The first input byte picks the
// vocabulary and the flags (special tokens parsed or not, post-processor on or off, special tokens skipped when
// decoding); the rest is the text. Checked: every id is in the vocabulary; streaming detokenization
// (IncrementalDetokenizer, what the engine streams) concatenates to exactly decode() of the same ids, as its
// header promises; and the byte-level vocabularies without a normalizer (SmolLM2, Llama 3.1) give back valid
// UTF-8 text unchanged (HF tokenizers' round trip for those tokenizers), unless the text holds an ASCII byte the
// vocabulary has no token for (SmolLM2 has none for 0x04 and a few other control bytes: HF drops them too).
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "support/fuzz_common.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using podserve::fuzz::fail;

struct Vocab {
  std::string name;
  std::unique_ptr<podserve::Tokenizer> tok;
  bool lossless = false;  // decode(encode(valid UTF-8)) == the text
  std::string dropped;    // ASCII bytes that encode to no token on their own (no byte token in the vocabulary)
};

std::vector<Vocab>& vocabs() {
  static std::vector<Vocab> all;
  return all;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = podserve::tokenizer_internal::utf8_valid_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void add_fixture(const std::string& name, bool lossless) {
  auto tok = podserve::load_hf_tokenizer(podserve::fuzz::fixtures_path() + "/tokenizers/" + name);
  if (!tok.ok()) fail("set-up: cannot load fixture tokenizer " + name, tok.status().to_string());
  vocabs().push_back({name, std::make_unique<podserve::Tokenizer>(std::move(tok->tokenizer)), lossless, {}});
}

/// Fills in each vocabulary's `dropped` bytes.
void find_dropped_bytes() {
  for (Vocab& v : vocabs()) {
    for (int b = 0; b < 0x80; ++b) {
      if (v.tok->encode(std::string(1, static_cast<char>(b)), false, false).empty()) v.dropped += static_cast<char>(b);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  auto file = podserve::GgufFile::open(podserve::fuzz::model_path());
  if (!file.ok()) fail("set-up: cannot open the SmolLM2 GGUF", file.status().to_string());
  auto vocab = podserve::vocab_from_gguf(*file);
  if (!vocab.ok()) fail("set-up: SmolLM2 vocabulary", vocab.status().to_string());
  auto tok = podserve::Tokenizer::create(*vocab);
  if (!tok.ok()) fail("set-up: SmolLM2 tokenizer", tok.status().to_string());
  vocabs().push_back({"smollm2-gguf", std::make_unique<podserve::Tokenizer>(std::move(tok).value()), true, {}});
  add_fixture("llama2", false);
  add_fixture("llama3_1", true);
  add_fixture("qwen3", false);
  add_fixture("gemma3", false);
  find_dropped_bytes();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const Vocab& v = vocabs()[(flags & 7) % vocabs().size()];
  const bool parse_special = flags & 8, add_special = flags & 16, skip_special = flags & 32;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<int32_t> ids = v.tok->encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= v.tok->vocab_size()) fail(v.name + ": encode gave an id outside the vocabulary");
  }
  const std::string decoded = v.tok->decode(ids, skip_special);
  if (!valid_utf8(decoded)) fail(v.name + ": decode gave invalid UTF-8");

  podserve::IncrementalDetokenizer stream(*v.tok, skip_special);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (streamed != decoded) {
    fail(v.name + ": streamed detokenization differs from decode()", "decode:   " + decoded + "\nstreamed: " + streamed);
  }
  const bool keeps_every_byte = text.find_first_of(v.dropped) == std::string_view::npos;
  if (v.lossless && !add_special && !skip_special && valid_utf8(text) && keeps_every_byte && decoded != text) {
    fail(v.name + ": decode(encode(text)) is not the text", "text:    " + std::string(text) + "\ndecoded: " + decoded);
  }
  return 0;
}
