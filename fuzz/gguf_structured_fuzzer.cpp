// Structure-aware GGUF fuzzing (OSS-Fuzz's llama.cpp fuzz_structured, without wrapping abort): a real small GGUF
// (the tiny test model of each architecture, tests/data/tiny_models, plus tests/data/tiny-llama.gguf) is edited by
// the input and written back as a well-formed container, so the load path behind the reader (vocabulary,
// tokenizer, architecture hyper-parameters, weight shapes and bounds) sees near-valid files. Edits: a metadata
// value replaced by any type and value (the file's own keys, the keys the product reads, arrays resized), removed,
// duplicated or copied from another model; a tensor's name, rank, dims, type or offset changed, or the tensor
// dropped; the data section cut or grown; the version changed.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "support/fuzz_common.h"
#include "support/gguf_load.h"

namespace {

using podserve::fuzz::fail;

struct RawKv {
  std::string key;
  uint32_t type = 0;
  std::string payload;  // the value's encoding after its type field
};

struct RawTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;
  uint64_t offset = 0;
};

struct RawGguf {
  std::string arch;
  std::vector<RawKv> kvs;
  std::vector<RawTensor> tensors;
  std::string data;  // the tensor data section
};

/// A cursor over a file GgufFile::parse accepted, so it needs no checks of its own.
class Walker {
 public:
  explicit Walker(const std::string& bytes) : b_(bytes) {}
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = get<uint64_t>();
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skip_value(uint32_t type) {
    static constexpr size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      pos_ += get<uint64_t>();
    } else if (type == 9) {
      const auto elem = get<uint32_t>();
      const auto n = get<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) skip_value(elem);
    } else {
      pos_ += kSizes[type];
    }
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& b_;
  size_t pos_ = 0;
};

RawGguf read_raw(const std::string& bytes) {
  auto parsed = podserve::GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "base");
  if (!parsed.ok()) fail("set-up: a base GGUF does not parse", parsed.status().to_string());
  RawGguf g;
  auto arch = parsed->get_string("general.architecture");
  g.arch = arch.ok() ? *arch : "";
  Walker w(bytes);
  w.get<uint32_t>();
  w.get<uint32_t>();
  const auto n_tensors = w.get<uint64_t>();
  const auto n_kv = w.get<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    RawKv kv;
    kv.key = w.str();
    kv.type = w.get<uint32_t>();
    const size_t at = w.pos();
    w.skip_value(kv.type);
    kv.payload = bytes.substr(at, w.pos() - at);
    g.kvs.push_back(std::move(kv));
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    RawTensor t;
    t.name = w.str();
    const auto n_dims = w.get<uint32_t>();
    for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(w.get<uint64_t>());
    t.type = w.get<uint32_t>();
    t.offset = w.get<uint64_t>();
    g.tensors.push_back(std::move(t));
  }
  g.data = bytes.substr(parsed->data_offset());
  return g;
}

std::vector<RawGguf>& bases() {
  static std::vector<RawGguf> all;
  return all;
}

/// Values that sit on the edges parsers get wrong: 0, 1, powers of two and their neighbours, type limits.
uint64_t interesting(FuzzedDataProvider& in) {
  static constexpr uint64_t kValues[] = {0,          1,          2,          3,          4,
                                         7,          8,          16,         31,         32,
                                         64,         127,        128,        255,        256,
                                         512,        513,        1024,       4096,       65535,
                                         65536,      0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
                                         1ull << 42, 1ull << 53, 1ull << 62, ~0ull >> 1, 1ull << 63,
                                         ~0ull,      ~0ull - 1};
  if (in.ConsumeBool()) return in.ConsumeIntegral<uint64_t>();
  uint64_t v = in.PickValueInArray(kValues);
  return in.ConsumeBool() ? v : 0 - v;  // two's-complement negation, defined for 1 << 63 too
}

template <typename T>
void put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_str(std::string* out, const std::string& s) {
  put<uint64_t>(out, s.size());
  *out += s;
}

/// One encoded value of `type` (9 = an array of a consumed element type).
std::string make_value(FuzzedDataProvider& in, uint32_t type, int depth) {
  std::string out;
  const uint64_t x = interesting(in);
  switch (type) {
    case 0: case 1: case 7: put<uint8_t>(&out, static_cast<uint8_t>(x)); break;
    case 2: case 3: put<uint16_t>(&out, static_cast<uint16_t>(x)); break;
    case 4: case 5: put<uint32_t>(&out, static_cast<uint32_t>(x)); break;
    case 6: put<float>(&out, in.ConsumeBool() ? static_cast<float>(static_cast<int64_t>(x)) : in.ConsumeFloatingPoint<float>()); break;
    case 10: case 11: put<uint64_t>(&out, x); break;
    case 12: put<double>(&out, in.ConsumeBool() ? static_cast<double>(static_cast<int64_t>(x)) : in.ConsumeFloatingPoint<double>()); break;
    case 8: put_str(&out, in.ConsumeRandomLengthString(96)); break;
    default: {  // array
      const uint32_t elem = depth < 2 ? in.ConsumeIntegralInRange<uint32_t>(0, 12) : 8;
      const auto n = in.ConsumeIntegralInRange<uint32_t>(0, in.ConsumeBool() ? 8 : 600);
      put<uint32_t>(&out, elem);
      put<uint64_t>(&out, n);
      for (uint32_t i = 0; i < n && in.remaining_bytes() > 0; ++i) out += make_value(in, elem, depth + 1);
      if (in.remaining_bytes() == 0) {  // ran out of input: finish the array with defaults so it stays well-formed
        std::string rest;
        for (uint32_t i = 0; i < n; ++i) rest += make_value(in, elem == 9 ? 8 : elem, depth + 1);
        out += rest;
      }
    }
  }
  return out;
}

/// The metadata keys the product reads (model/, tokenizer/), with `{arch}` for the architecture prefix.
const std::vector<std::string>& product_keys() {
  static const std::vector<std::string> keys = {
      "general.architecture", "general.alignment", "general.name", "general.file_type",
      "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
      "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
      "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix", "tokenizer.chat_template",
      "{arch}.context_length", "{arch}.embedding_length", "{arch}.block_count", "{arch}.feed_forward_length",
      "{arch}.attention.head_count", "{arch}.attention.head_count_kv", "{arch}.attention.key_length",
      "{arch}.attention.value_length", "{arch}.attention.layer_norm_rms_epsilon", "{arch}.attention.scale",
      "{arch}.attention.sliding_window", "{arch}.attention.sliding_window_pattern", "{arch}.rope.dimension_count",
      "{arch}.rope.freq_base", "{arch}.rope.freq_base_swa", "{arch}.rope.scaling.type", "{arch}.rope.scaling.factor",
      "{arch}.rope.scaling.original_context_length", "{arch}.expert_count", "{arch}.expert_used_count",
      "{arch}.vocab_size", "{arch}.attn_logit_softcapping", "{arch}.final_logit_softcapping"};
  return keys;
}

std::string product_key(FuzzedDataProvider& in, const std::string& arch) {
  std::string key = product_keys()[in.ConsumeIntegralInRange<size_t>(0, product_keys().size() - 1)];
  if (key.rfind("{arch}", 0) == 0) key = arch + key.substr(6);
  return key;
}

/// Writes a GGUF container (header, metadata, tensor infos, padding to the alignment, data).
std::string write(const RawGguf& g, uint32_t version) {
  std::string out = "GGUF";
  put<uint32_t>(&out, version);
  put<uint64_t>(&out, g.tensors.size());
  put<uint64_t>(&out, g.kvs.size());
  uint64_t alignment = 32;
  for (const RawKv& kv : g.kvs) {
    put_str(&out, kv.key);
    put<uint32_t>(&out, kv.type);
    out += kv.payload;
    if (kv.key == "general.alignment" && (kv.type == 4 || kv.type == 10) ) {
      uint64_t a = 0;
      std::memcpy(&a, kv.payload.data(), kv.type == 4 ? 4 : 8);
      if (a != 0 && (a & (a - 1)) == 0 && a <= (1u << 20)) alignment = a;
    }
  }
  for (const RawTensor& t : g.tensors) {
    put_str(&out, t.name);
    put<uint32_t>(&out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(&out, d);
    put<uint32_t>(&out, t.type);
    put<uint64_t>(&out, t.offset);
  }
  out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
  return out + g.data;
}

void edit(FuzzedDataProvider& in, RawGguf* g) {
  const int op = in.ConsumeIntegralInRange(0, 12);
  const auto pick = [&](size_t n) { return in.ConsumeIntegralInRange<size_t>(0, n - 1); };
  std::vector<RawKv>& kvs = g->kvs;
  std::vector<RawTensor>& ts = g->tensors;
  switch (op) {
    case 0:  // replace a value (any type)
      if (!kvs.empty()) {
        RawKv& kv = kvs[pick(kvs.size())];
        kv.type = in.ConsumeIntegralInRange<uint32_t>(0, 12);
        kv.payload = make_value(in, kv.type, 0);
      }
      break;
    case 1: {  // set a key the product reads
      RawKv kv{product_key(in, g->arch), in.ConsumeIntegralInRange<uint32_t>(0, 12), {}};
      kv.payload = make_value(in, kv.type, 0);
      auto it = std::find_if(kvs.begin(), kvs.end(), [&](const RawKv& k) { return k.key == kv.key; });
      if (it != kvs.end()) *it = std::move(kv);
      else kvs.push_back(std::move(kv));
      break;
    }
    case 2:  // remove a key
      if (!kvs.empty()) kvs.erase(kvs.begin() + static_cast<ptrdiff_t>(pick(kvs.size())));
      break;
    case 3: {  // copy a key (and its value) from another model
      const RawGguf& other = bases()[pick(bases().size())];
      if (other.kvs.empty()) break;
      const RawKv& kv = other.kvs[pick(other.kvs.size())];
      auto it = std::find_if(kvs.begin(), kvs.end(), [&](const RawKv& k) { return k.key == kv.key; });
      if (it != kvs.end()) *it = kv;
      else kvs.push_back(kv);
      break;
    }
    case 4:  // duplicate a key
      if (!kvs.empty()) kvs.push_back(kvs[pick(kvs.size())]);
      break;
    case 5:  // resize an array (keeping its element type): drop or repeat elements at the end
      if (!kvs.empty()) {
        RawKv& kv = kvs[pick(kvs.size())];
        if (kv.type != 9 || kv.payload.size() < 12) break;
        uint64_t n = 0;
        std::memcpy(&n, kv.payload.data() + 4, 8);
        uint32_t elem = 0;
        std::memcpy(&elem, kv.payload.data(), 4);
        const uint64_t keep = in.ConsumeIntegralInRange<uint64_t>(0, n + 16);
        // Rebuild: the first min(keep, n) elements are walked off the old payload; the rest are new.
        Walker w(kv.payload);
        w.get<uint32_t>();
        w.get<uint64_t>();
        const size_t start = w.pos();
        for (uint64_t i = 0; i < std::min(keep, n); ++i) w.skip_value(elem);
        std::string out;
        put<uint32_t>(&out, elem);
        put<uint64_t>(&out, keep);
        out += kv.payload.substr(start, w.pos() - start);
        for (uint64_t i = n; i < keep; ++i) out += make_value(in, elem == 9 ? 8 : elem, 1);
        if (elem == 9) break;  // nested arrays: left alone
        kv.payload = std::move(out);
      }
      break;
    case 6:  // a tensor dim
      if (!ts.empty()) {
        RawTensor& t = ts[pick(ts.size())];
        if (!t.dims.empty()) t.dims[pick(t.dims.size())] = interesting(in);
      }
      break;
    case 7:  // a tensor type
      if (!ts.empty()) ts[pick(ts.size())].type = static_cast<uint32_t>(in.ConsumeBool() ? in.ConsumeIntegralInRange(0, 41) : interesting(in));
      break;
    case 8:  // a tensor offset
      if (!ts.empty()) {
        RawTensor& t = ts[pick(ts.size())];
        t.offset = in.ConsumeBool() ? ts[pick(ts.size())].offset : interesting(in) & ~uint64_t{31};
      }
      break;
    case 9:  // a tensor's rank
      if (!ts.empty()) {
        RawTensor& t = ts[pick(ts.size())];
        if (in.ConsumeBool() && !t.dims.empty()) t.dims.pop_back();
        else t.dims.push_back(in.ConsumeBool() ? 1 : interesting(in));
      }
      break;
    case 10:  // a tensor's name (another tensor's, or new), or the tensor dropped
      if (!ts.empty()) {
        const size_t i = pick(ts.size());
        if (in.ConsumeBool()) ts.erase(ts.begin() + static_cast<ptrdiff_t>(i));
        else ts[i].name = in.ConsumeBool() ? ts[pick(ts.size())].name : in.ConsumeRandomLengthString(80);
      }
      break;
    case 11:  // the data section cut short or grown
      if (in.ConsumeBool()) g->data.resize(in.ConsumeIntegralInRange<size_t>(0, g->data.size()));
      else g->data.append(in.ConsumeIntegralInRange<size_t>(0, 4096), '\x7f');
      break;
    default: {  // any key and value
      RawKv kv{in.ConsumeRandomLengthString(64), in.ConsumeIntegralInRange<uint32_t>(0, 12), {}};
      kv.payload = make_value(in, kv.type, 0);
      kvs.push_back(std::move(kv));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  const std::string dir = podserve::fuzz::test_data_path();
  for (const char* f : {"tiny-llama.gguf", "tiny_models/gemma/gguf-q8_0.gguf", "tiny_models/gemma2/gguf-q8_0.gguf",
                        "tiny_models/gemma3/gguf-q8_0.gguf", "tiny_models/mistral/gguf-q8_0.gguf",
                        "tiny_models/mixtral/gguf-q8_0.gguf", "tiny_models/phi3/gguf-q8_0.gguf",
                        "tiny_models/qwen2/gguf-q8_0.gguf", "tiny_models/qwen3/gguf-q8_0.gguf",
                        "tiny_models/llama/model-q4_0.gguf"}) {
    bases().push_back(read_raw(podserve::fuzz::read_file(dir + "/" + f)));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  RawGguf g = bases()[in.ConsumeIntegralInRange<size_t>(0, bases().size() - 1)];
  uint32_t version = in.ConsumeBool() ? 3 : 2;
  const int edits = in.ConsumeIntegralInRange(0, 24);
  for (int i = 0; i < edits && in.remaining_bytes() > 0; ++i) edit(in, &g);
  if (in.ConsumeProbability<double>() < 0.02) version = in.ConsumeIntegral<uint32_t>();
  const std::string bytes = write(g, version);
  // An exact-size heap copy: ASan then reports any read past the end.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
  std::memcpy(exact.get(), bytes.data(), bytes.size());
  podserve::Result<podserve::GgufFile> file = podserve::GgufFile::parse(exact.get(), bytes.size(), "fuzz.gguf");
  if (file.ok()) podserve::fuzz::load_and_use_gguf(std::move(file).value());
  return 0;
}
