#include "io/gguf.h"

#include <iterator>
#include <limits>
#include <optional>
#include <utility>

#include "io/byte_reader.h"

namespace podserve {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kGgufMaxDims = 4;
constexpr size_t kMaxTensorNameBytes = 64;
// Nesting is legal but never deeper than 2 in practice; the limit keeps recursion bounded on hostile input.
constexpr int kMaxArrayDepth = 8;
// Each element costs ~48 bytes in memory but may take 1 byte in the file; this caps the blow-up (largest real
// vocabularies hold well under a million entries per array).
constexpr uint64_t kMaxMetadataElements = uint64_t{1} << 26;

enum GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

/// Smallest number of bytes one value of `type` occupies in the file, or 0 if the type id is unknown.
uint64_t min_encoded_size(uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool: return 1;
    case kU16:
    case kI16: return 2;
    case kU32:
    case kI32:
    case kF32: return 4;
    case kU64:
    case kI64:
    case kF64: return 8;
    case kString: return 8;     // the length
    case kArray: return 4 + 8;  // element type + count
    default: return 0;
  }
}

/// ggml's name for a tensor type id, for error messages about types we do not load.
const char* ggml_type_name(uint32_t id) {
  static constexpr const char* kNames[] = {
      "F32",      "F16",      "Q4_0",    "Q4_1",  "Q4_2",       "Q4_3",       "Q5_0",       "Q5_1",
      "Q8_0",     "Q8_1",     "Q2_K",    "Q3_K",  "Q4_K",       "Q5_K",       "Q6_K",       "Q8_K",
      "IQ2_XXS",  "IQ2_XS",   "IQ3_XXS", "IQ1_S", "IQ4_NL",     "IQ3_S",      "IQ2_S",      "IQ4_XS",
      "I8",       "I16",      "I32",     "I64",   "F64",        "IQ1_M",      "BF16",       "Q4_0_4_4",
      "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",   "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  return id < std::size(kNames) ? kNames[id] : "unknown";
}

uint64_t align_up(uint64_t x, uint64_t alignment, bool* overflow) {
  const uint64_t rem = x % alignment;
  if (rem == 0) return x;
  *overflow = x > std::numeric_limits<uint64_t>::max() - (alignment - rem);
  return x + (alignment - rem);
}

/// Reads the KV section and tensor infos into a GgufFile; all bounds checks go through the ByteReader.
class Parser {
 public:
  Parser(const uint8_t* data, size_t size, const std::string& name) : r_(data, size, name) {}

  Result<GgufValue> read_value(uint32_t type, const std::string& key, int depth) {
    switch (type) {
      case kU8: return scalar<uint8_t, uint64_t>(key);
      case kI8: return scalar<int8_t, int64_t>(key);
      case kU16: return scalar<uint16_t, uint64_t>(key);
      case kI16: return scalar<int16_t, int64_t>(key);
      case kU32: return scalar<uint32_t, uint64_t>(key);
      case kI32: return scalar<int32_t, int64_t>(key);
      case kU64: return scalar<uint64_t, uint64_t>(key);
      case kI64: return scalar<int64_t, int64_t>(key);
      case kF32: return scalar<float, double>(key);
      case kF64: return scalar<double, double>(key);
      case kBool: {
        PODSERVE_ASSIGN_OR_RETURN(uint8_t x, r_.read<uint8_t>("value", key));
        if (x > 1) return r_.error_at(r_.offset() - 1, "key '" + key + "': bool byte is " + std::to_string(x));
        return GgufValue{x == 1};
      }
      case kString: {
        PODSERVE_ASSIGN_OR_RETURN(std::string s, r_.read_string("string value", key));
        return GgufValue{std::move(s)};
      }
      case kArray: return read_array(key, depth + 1);
      default: return r_.error("key '" + key + "' has unknown value type " + std::to_string(type));
    }
  }

  Result<GgufValue> read_array(const std::string& key, int depth) {
    if (depth > kMaxArrayDepth) {
      return r_.error("key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth));
    }
    const size_t at = r_.offset();
    PODSERVE_ASSIGN_OR_RETURN(uint32_t elem_type, r_.read<uint32_t>("array element type", key));
    const uint64_t elem_size = min_encoded_size(elem_type);
    if (elem_size == 0) {
      return r_.error_at(at, "key '" + key + "' is an array of unknown value type " + std::to_string(elem_type));
    }
    PODSERVE_ASSIGN_OR_RETURN(uint64_t count, r_.read<uint64_t>("array length", key));
    // Checked before allocating: a corrupt count must not turn into a huge reservation.
    if (count > r_.remaining() / elem_size) {
      return r_.error_at(at + 4, "key '" + key + "': array of " + std::to_string(count) + " elements does not fit in " +
                                     std::to_string(r_.remaining()) + " remaining bytes");
    }
    elements_ += count;
    if (elements_ > kMaxMetadataElements) {
      return r_.error_at(at + 4, "metadata arrays hold more than " + std::to_string(kMaxMetadataElements) +
                                     " elements in total (key '" + key + "')");
    }
    auto items = std::make_shared<GgufValue::Array>();
    items->reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
      PODSERVE_ASSIGN_OR_RETURN(GgufValue item, read_value(elem_type, key, depth));
      items->push_back(std::move(item));
    }
    GgufValue out;
    out.v = std::move(items);
    return out;
  }

  template <typename Raw, typename Stored>
  Result<GgufValue> scalar(const std::string& key) {
    PODSERVE_ASSIGN_OR_RETURN(Raw x, r_.read<Raw>("value", key));
    return GgufValue{static_cast<Stored>(x)};
  }

  /// Reads one tensor info; checks its name, rank, dims, type and offset alignment (not yet its byte range).
  Status read_tensor_info(uint64_t i, uint64_t alignment, GgufTensor* t, uint64_t* offset) {
    const size_t info_at = r_.offset();
    PODSERVE_ASSIGN_OR_RETURN(t->name, r_.read_string("name of tensor " + std::to_string(i)));
    if (t->name.empty() || t->name.size() > kMaxTensorNameBytes) {
      return r_.error_at(info_at, "tensor " + std::to_string(i) + " has a name of " + std::to_string(t->name.size()) +
                                      " bytes (must be 1.." + std::to_string(kMaxTensorNameBytes) + ")");
    }
    const std::string what = "tensor '" + t->name + "'";
    const size_t dims_at = r_.offset();
    PODSERVE_ASSIGN_OR_RETURN(uint32_t n_dims, r_.read<uint32_t>("dimension count of " + what));
    if (n_dims == 0 || n_dims > kGgufMaxDims) {
      return r_.error_at(dims_at, what + " has " + std::to_string(n_dims) + " dimensions (must be 1.." +
                                      std::to_string(kGgufMaxDims) + ")");
    }
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      PODSERVE_ASSIGN_OR_RETURN(uint64_t dim, r_.read<uint64_t>("dimensions of " + what));
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return r_.error_at(dims_at, what + " has dimension " + std::to_string(d) + " = " + std::to_string(dim) +
                                        " (negative as int64)");
      }
      if (__builtin_mul_overflow(elements, static_cast<int64_t>(dim), &elements)) {
        return r_.error_at(dims_at, what + " has dimensions whose element count overflows int64");
      }
      t->dims.push_back(static_cast<int64_t>(dim));
    }
    const size_t type_at = r_.offset();
    PODSERVE_ASSIGN_OR_RETURN(uint32_t type_id, r_.read<uint32_t>("type of " + what));
    std::optional<DType> type = dtype_from_ggml(type_id);
    if (!type) {
      return invalid(what + " has unsupported ggml type " + std::to_string(type_id) + " (" + ggml_type_name(type_id) +
                     ") at byte " + std::to_string(type_at));
    }
    t->type = *type;
    const int64_t block = dtype_block_size(t->type);
    if (t->dims[0] % block != 0) {
      return r_.error_at(dims_at, what + " of type " + dtype_name(t->type) + " has row length " +
                                      std::to_string(t->dims[0]) + ", not a multiple of " + std::to_string(block));
    }
    // nbytes = blocks * block_bytes; blocks <= elements, so only the multiplication can overflow.
    int64_t nbytes = 0;
    if (__builtin_mul_overflow(elements / block, dtype_block_bytes(t->type), &nbytes)) {
      return r_.error_at(dims_at, what + " is too large (byte size overflows)");
    }
    t->nbytes = static_cast<size_t>(nbytes);
    const size_t offset_at = r_.offset();
    PODSERVE_ASSIGN_OR_RETURN(*offset, r_.read<uint64_t>("data offset of " + what));
    if (*offset % alignment != 0) {
      return r_.error_at(offset_at, what + " has data offset " + std::to_string(*offset) + ", not a multiple of the " +
                                        "alignment " + std::to_string(alignment));
    }
    return ok_status();
  }

  Status invalid(const std::string& what) const { return invalid_argument("'" + r_.name() + "': " + what); }

  ByteReader r_;
  uint64_t elements_ = 0;
};

}  // namespace

int64_t GgufTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t GgufTensor::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  PODSERVE_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
  PODSERVE_ASSIGN_OR_RETURN(GgufFile file, parse(mapped.data(), mapped.size(), path));
  file.file_ = std::move(mapped);  // the mapping's address does not change, so tensor pointers stay valid
  return file;
}

Result<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
  GgufFile f;
  f.name_ = std::move(name);
  Parser p(data, size, f.name_);
  ByteReader& r = p.r_;

  // Header.
  if (size < 4) return r.error("truncated: " + std::to_string(size) + " bytes is too short for a GGUF header");
  PODSERVE_ASSIGN_OR_RETURN(uint32_t magic, r.read<uint32_t>("magic"));
  if (magic != kMagic) return p.invalid("not a GGUF file (bad magic)");
  PODSERVE_ASSIGN_OR_RETURN(f.version_, r.read<uint32_t>("version"));
  if (f.version_ != 2 && f.version_ != 3) {
    std::string hint = (f.version_ & 0xffff) == 0 ? " (big-endian files are not supported)" : "";
    return p.invalid("unsupported GGUF version " + std::to_string(f.version_) + hint + "; versions 2 and 3 are");
  }
  const size_t counts_at = r.offset();
  PODSERVE_ASSIGN_OR_RETURN(uint64_t tensor_count, r.read<uint64_t>("tensor count"));
  PODSERVE_ASSIGN_OR_RETURN(uint64_t kv_count, r.read<uint64_t>("metadata count"));
  // Cheap plausibility checks before any loop: each KV takes >= 13 bytes, each tensor info >= 24.
  if (kv_count > r.remaining() / (8 + 4 + 1)) {
    return r.error_at(counts_at + 8, "metadata count " + std::to_string(kv_count) + " exceeds what " +
                                         std::to_string(r.remaining()) + " remaining bytes can hold");
  }
  if (tensor_count > r.remaining() / (8 + 4 + 4 + 8)) {
    return r.error_at(counts_at, "tensor count " + std::to_string(tensor_count) + " exceeds what " +
                                     std::to_string(r.remaining()) + " remaining bytes can hold");
  }

  // Metadata.
  for (uint64_t i = 0; i < kv_count; ++i) {
    const size_t key_at = r.offset();
    PODSERVE_ASSIGN_OR_RETURN(std::string key, r.read_string("key of metadata entry " + std::to_string(i)));
    PODSERVE_ASSIGN_OR_RETURN(uint32_t type, r.read<uint32_t>("value type", key));
    PODSERVE_ASSIGN_OR_RETURN(GgufValue value, p.read_value(type, key, 0));
    if (f.metadata_.count(key) != 0) return r.error_at(key_at, "duplicate metadata key '" + key + "'");
    f.metadata_.emplace(std::move(key), std::move(value));
  }

  if (const GgufValue* a = f.find("general.alignment")) {
    const uint64_t* u = std::get_if<uint64_t>(&a->v);
    if (u == nullptr) return p.invalid("general.alignment must be an unsigned integer");
    if (*u == 0 || (*u & (*u - 1)) != 0) {
      return p.invalid("general.alignment " + std::to_string(*u) + " is not a power of two");
    }
    f.alignment_ = *u;
  } else {
    f.alignment_ = kDefaultAlignment;
  }

  // Tensor infos. Byte ranges are checked once the data section's start is known.
  if (tensor_count > r.remaining() / (8 + 1 + 4 + 8 + 4 + 8)) {  // re-checked: the KVs used up bytes
    return r.error_at(counts_at, "tensor count " + std::to_string(tensor_count) + " exceeds what the " +
                                     std::to_string(r.remaining()) + " bytes after the metadata can hold");
  }
  f.tensors_.reserve(static_cast<size_t>(tensor_count));
  std::vector<uint64_t> offsets;
  offsets.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const size_t info_at = r.offset();
    GgufTensor t;
    uint64_t offset = 0;
    PODSERVE_RETURN_IF_ERROR(p.read_tensor_info(i, f.alignment_, &t, &offset));
    if (f.tensor_index_.count(t.name) != 0) return r.error_at(info_at, "duplicate tensor '" + t.name + "'");
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
    offsets.push_back(offset);
  }

  // Tensor data.
  bool overflow = false;
  f.data_offset_ = align_up(r.offset(), f.alignment_, &overflow);
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    GgufTensor& t = f.tensors_[i];
    const uint64_t start = f.data_offset_ + offsets[i];
    if (overflow || offsets[i] > size || f.data_offset_ > size - offsets[i] || t.nbytes > size - start) {
      return data_loss("'" + f.name_ + "': data of tensor '" + t.name + "' (" + std::to_string(t.nbytes) +
                       " bytes at offset " + std::to_string(offsets[i]) + " past the data start " +
                       std::to_string(f.data_offset_) + ") lies outside the file of " + std::to_string(size) +
                       " bytes");
    }
    t.file_offset = start;
    t.data = data + start;
  }
  return f;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

}  // namespace podserve
