// safetensors reader over memory-mapped files: one `model.safetensors` or the shards named by
// `model.safetensors.index.json`. Every header field is checked (length, JSON shape, dtype, shape x dtype size ==
// byte range, ranges packed inside the file without holes or overlaps, unique names) before any tensor is used.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/mapped_file.h"
#include "base/status.h"

namespace podserve {

/// One tensor: its type, shape (PyTorch order, outermost first) and bytes inside a mapping.
struct SafetensorsTensor {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t num_elements() const;
};

/// The tensors of one checkpoint (one file or all shards). Movable; data pointers stay valid across moves.
class SafetensorsModel {
 public:
  /// Opens a `.safetensors` file, a `model.safetensors.index.json`, or a directory holding either
  /// (`model.safetensors` wins over the index, as in transformers).
  static Result<SafetensorsModel> open(const std::string& path);
  /// Parses one in-memory file image (tests). The bytes must outlive the result.
  static Result<SafetensorsModel> parse(const uint8_t* data, size_t size, std::string name);

  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, SafetensorsTensor, std::less<>>& tensors() const { return tensors_; }
  /// `__metadata__` of the (first) file.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  Status add_file(const uint8_t* data, size_t size, const std::string& name);

  std::vector<MappedFile> files_;
  std::map<std::string, SafetensorsTensor, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// The safetensors dtype string for a DType we read ("F32", "F16", "BF16").
std::optional<DType> safetensors_dtype(std::string_view name);

}  // namespace podserve
