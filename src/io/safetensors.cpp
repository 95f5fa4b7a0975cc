#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <boost/json.hpp>
#include <filesystem>
#include <limits>
#include <set>

#include "io/json_keys.h"

namespace podserve {
namespace json = boost::json;
namespace {

// The Rust reference reader's limit (MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kSafetensorsMaxDims = 8;
constexpr size_t kMaxShards = 4096;

Status bad(const std::string& file, const std::string& what) {
  return data_loss("'" + file + "': " + what);
}

// Product of dims times element bytes, or nullopt on overflow / negative dims.
std::optional<uint64_t> byte_size(const std::vector<int64_t>& shape, uint64_t elem_bytes) {
  uint64_t total = elem_bytes;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && total > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) return std::nullopt;
    total *= static_cast<uint64_t>(d);
  }
  return total;
}

Result<std::vector<int64_t>> read_shape(const json::value& v, const std::string& file, const std::string& name) {
  if (!v.is_array()) return bad(file, "tensor '" + name + "': 'shape' is not an array");
  const json::array& a = v.as_array();
  if (a.size() > kSafetensorsMaxDims) return bad(file, "tensor '" + name + "': more than 8 dimensions");
  std::vector<int64_t> shape;
  for (const json::value& d : a) {
    if (d.is_int64() && d.as_int64() >= 0) shape.push_back(d.as_int64());
    else if (d.is_uint64() && d.as_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) shape.push_back(static_cast<int64_t>(d.as_uint64()));
    else return bad(file, "tensor '" + name + "': shape entries must be non-negative integers");
  }
  return shape;
}

Result<uint64_t> read_offset(const json::value& v, const std::string& file, const std::string& name) {
  if (v.is_int64() && v.as_int64() >= 0) return static_cast<uint64_t>(v.as_int64());
  if (v.is_uint64()) return v.as_uint64();
  return bad(file, "tensor '" + name + "': data_offsets must be non-negative integers");
}

}  // namespace

int64_t SafetensorsTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // checked against the byte range at parse time, cannot overflow
  return n;
}

std::optional<DType> safetensors_dtype(std::string_view name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return std::nullopt;
}

Status SafetensorsModel::add_file(const uint8_t* data, size_t size, const std::string& file) {
  if (size < 8) return bad(file, "too short for a safetensors header (" + std::to_string(size) + " bytes)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, data, 8);
  if (header_len > kMaxHeaderBytes) {
    return bad(file, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  }
  if (header_len > size - 8) {
    return bad(file, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                         std::to_string(size) + " bytes)");
  }
  const std::string_view header(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(header_len));
  if (header.empty() || header[0] != '{') return bad(file, "header does not start with '{'");
  boost::system::error_code ec;
  json::value root = json::parse(header, ec);
  if (ec) return bad(file, "header is not valid JSON: " + ec.message());
  if (!root.is_object()) return bad(file, "header is not a JSON object");
  if (auto dup = find_duplicate_key(header)) return bad(file, "duplicate tensor name '" + *dup + "'");

  const uint64_t buffer_start = 8 + header_len;
  const uint64_t buffer_size = size - buffer_start;
  struct Range { uint64_t begin, end; std::string name; };
  std::vector<Range> ranges;
  std::vector<SafetensorsTensor> found;
  for (const auto& kv : root.as_object()) {
    const std::string name(kv.key());
    if (name == "__metadata__") {
      if (!kv.value().is_object()) return bad(file, "__metadata__ is not an object");
      for (const auto& m : kv.value().as_object()) {
        if (!m.value().is_string()) return bad(file, "__metadata__ values must be strings");
        metadata_.emplace(std::string(m.key()), std::string(m.value().as_string()));  // the first file's wins
      }
      continue;
    }
    if (name.empty() || name.size() > 1024) return bad(file, "tensor name of invalid length " + std::to_string(name.size()));
    if (!kv.value().is_object()) return bad(file, "tensor '" + name + "' is not an object");
    const json::object& t = kv.value().as_object();
    const json::value* dtype = t.if_contains("dtype");
    const json::value* shape_v = t.if_contains("shape");
    const json::value* offsets = t.if_contains("data_offsets");
    if (!dtype || !dtype->is_string()) return bad(file, "tensor '" + name + "' has no string 'dtype'");
    if (!shape_v) return bad(file, "tensor '" + name + "' has no 'shape'");
    if (!offsets || !offsets->is_array() || offsets->as_array().size() != 2) {
      return bad(file, "tensor '" + name + "': data_offsets must be [begin, end]");
    }
    const std::string dtype_name_s(dtype->as_string());
    std::optional<DType> type = safetensors_dtype(dtype_name_s);
    if (!type) {
      return unimplemented("'" + file + "': tensor '" + name + "' has dtype " + dtype_name_s +
                           " (supported: F32, F16, BF16)");
    }
    PODSERVE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, read_shape(*shape_v, file, name));
    PODSERVE_ASSIGN_OR_RETURN(uint64_t begin, read_offset(offsets->as_array()[0], file, name));
    PODSERVE_ASSIGN_OR_RETURN(uint64_t end, read_offset(offsets->as_array()[1], file, name));
    if (end < begin) return bad(file, "tensor '" + name + "': data_offsets end < begin");
    if (end > buffer_size) {
      return bad(file, "tensor '" + name + "': bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") lie outside the data buffer of " + std::to_string(buffer_size) + " bytes");
    }
    std::optional<uint64_t> expected = byte_size(shape, static_cast<uint64_t>(dtype_block_bytes(*type)));
    if (!expected || *expected != end - begin) {
      return bad(file, "tensor '" + name + "': shape and dtype need " +
                           (expected ? std::to_string(*expected) : std::string("an overflowing number of")) +
                           " bytes but data_offsets span " + std::to_string(end - begin));
    }
    if (tensors_.count(name)) return bad(file, "tensor '" + name + "' appears in more than one file");
    ranges.push_back({begin, end, name});
    SafetensorsTensor st;
    st.name = name;
    st.type = *type;
    st.shape = std::move(shape);
    st.data = data + buffer_start + begin;
    st.nbytes = static_cast<size_t>(end - begin);
    found.push_back(std::move(st));
  }
  // As the reference reader: sorted by offset, the ranges tile the buffer exactly (no holes, no overlaps).
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Range& r : ranges) {
    if (r.begin < at) return bad(file, "tensor '" + r.name + "' overlaps the previous tensor's bytes");
    if (r.begin > at) return bad(file, "a hole of unused bytes lies before tensor '" + r.name + "'");
    at = r.end;
  }
  if (at != buffer_size) {
    return bad(file, "the tensors cover " + std::to_string(at) + " bytes but the data buffer has " +
                         std::to_string(buffer_size));
  }
  for (SafetensorsTensor& t : found) {
    // The official writer pads the header to 8 bytes and orders tensors so each is aligned; kernels rely on it.
    if (reinterpret_cast<uintptr_t>(t.data) % dtype_block_bytes(t.type) != 0) {
      return bad(file, "tensor '" + t.name + "' is not aligned to its element size");
    }
  }
  for (SafetensorsTensor& t : found) {
    const std::string key = t.name;
    tensors_.emplace(key, std::move(t));
  }
  return ok_status();
}

Result<SafetensorsModel> SafetensorsModel::parse(const uint8_t* data, size_t size, std::string name) {
  SafetensorsModel m;
  PODSERVE_RETURN_IF_ERROR(m.add_file(data, size, name));
  return m;
}

const SafetensorsTensor* SafetensorsModel::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

SafetensorsModel SafetensorsModel::made_by(std::shared_ptr<TensorMaker> maker) {
  SafetensorsModel m;
  m.maker_ = std::move(maker);
  return m;
}

Result<const SafetensorsTensor*> SafetensorsModel::find_or_make(std::string_view name,
                                                                const std::vector<int64_t>& shape) {
  if (const SafetensorsTensor* t = find(name); t != nullptr || maker_ == nullptr) return t;
  PODSERVE_ASSIGN_OR_RETURN(SafetensorsTensor made, maker_->make(std::string(name), shape));
  return &tensors_.emplace(std::string(name), std::move(made)).first->second;  // map nodes never move
}

Result<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string target = path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "model.safetensors", ec)) target = (fs::path(path) / "model.safetensors").string();
    else target = (fs::path(path) / "model.safetensors.index.json").string();
  }
  SafetensorsModel m;
  std::vector<std::string> shard_paths;
  const bool is_index = target.size() >= 5 && target.compare(target.size() - 5, 5, ".json") == 0;
  if (!is_index) {
    shard_paths.push_back(target);
  } else {
    PODSERVE_ASSIGN_OR_RETURN(MappedFile index, MappedFile::open(target));
    const std::string_view text(reinterpret_cast<const char*>(index.data()), index.size());
    json::value root = json::parse(text, ec);
    if (ec) return bad(target, "not valid JSON: " + ec.message());
    const json::value* map = root.is_object() ? root.as_object().if_contains("weight_map") : nullptr;
    if (!map || !map->is_object()) return bad(target, "has no 'weight_map' object");
    std::set<std::string> shards;
    for (const auto& kv : map->as_object()) {
      if (!kv.value().is_string()) return bad(target, "weight_map values must be file names");
      const std::string shard(kv.value().as_string());
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") {
        return bad(target, "weight_map names '" + shard + "', which is not a file in the same folder");
      }
      shards.insert(shard);
    }
    if (shards.empty()) return bad(target, "weight_map is empty");
    if (shards.size() > kMaxShards) return bad(target, "names more than 4096 shards");
    const fs::path dir = fs::path(target).parent_path();
    for (const std::string& s : shards) shard_paths.push_back((dir / s).string());
    // Every tensor the index names must be in the shard it names (checked after loading).
    m.files_.reserve(shard_paths.size());
    for (const std::string& p : shard_paths) {
      PODSERVE_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(p));
      m.files_.push_back(std::move(f));
      PODSERVE_RETURN_IF_ERROR(m.add_file(m.files_.back().data(), m.files_.back().size(), p));
    }
    for (const auto& kv : map->as_object()) {
      if (!m.find(kv.key())) return bad(target, "names tensor '" + std::string(kv.key()) + "', which no shard holds");
    }
    return m;
  }
  PODSERVE_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(target));
  m.files_.push_back(std::move(f));
  PODSERVE_RETURN_IF_ERROR(m.add_file(m.files_.back().data(), m.files_.back().size(), target));
  return m;
}

}  // namespace podserve
