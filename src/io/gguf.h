// GGUF (v2/v3) reader over a memory-mapped file. Every count, length, offset and size in the file is checked
// against the file's bounds before use; a truncated or corrupt file yields a DataLoss Status naming the problem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/dtype.h"
#include "base/mapped_file.h"
#include "base/status.h"

namespace podserve {

/// One metadata value. Signed integers of every width are widened to int64, unsigned ones to uint64, floats to
/// double; arrays (possibly nested) hold their elements as GgufValues.
struct GgufValue {
  using Array = std::vector<GgufValue>;
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, std::shared_ptr<Array>> v;
};

/// A tensor's description and its bytes inside the mapping (valid while the GgufFile lives).
struct GgufTensor {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the fastest-varying (row length)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  uint64_t file_offset = 0;  // absolute offset of `data` in the file (for messages)
  int64_t num_elements() const;
  int64_t rows() const;  // product of dims[1..]
  size_t row_bytes() const { return dtype_row_bytes(type, dims.empty() ? 0 : dims[0]); }
};

/// A parsed GGUF file. Parsing validates the whole header and every tensor's shape, type and byte range, so
/// callers can trust `tensors()` (dims are 1..4 values >= 0, dims[0] is a multiple of the block size, data lies
/// inside the file). Movable; tensor data pointers stay valid across moves.
class GgufFile {
 public:
  /// Maps and parses `path`. Fails with a message naming the path and the first problem found.
  static Result<GgufFile> open(const std::string& path);
  /// Parses an in-memory image (used by tests and fuzzing). The bytes must outlive the GgufFile.
  static Result<GgufFile> parse(const uint8_t* data, size_t size, std::string name);

  uint32_t version() const { return version_; }
  const std::string& name() const { return name_; }  // the path (or the name given to parse())
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  bool has(std::string_view key) const { return metadata_.find(key) != metadata_.end(); }
  const GgufValue* find(std::string_view key) const;

  // Typed accessors: NotFound if absent, InvalidArgument (naming the key) if the type does not fit.
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;      // any integer type that fits int64
  Result<double> get_float(std::string_view key) const;     // any float or integer type
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
  Result<std::vector<double>> get_float_array(std::string_view key) const;

  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }

 private:
  Status type_error(std::string_view key, const char* expected) const;

  MappedFile file_;  // empty when parsed from memory
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;  // name -> index in tensors_
};

}  // namespace podserve
