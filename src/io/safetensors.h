// safetensors reader over memory-mapped files: one `model.safetensors` or the shards named by
// `model.safetensors.index.json`. Every header field is checked (length, JSON shape, dtype, shape x dtype size ==
// byte range, ranges packed inside the file without holes or overlaps, unique names) before any tensor is used.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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

/// Makes the tensors of a checkpoint that has no file (LOAD_FORMAT=dummy: model/dummy_weights.h): asked for a name
/// and a shape, it returns a tensor whose bytes it owns for as long as it lives.
class TensorMaker {
 public:
  virtual ~TensorMaker() = default;
  virtual Result<SafetensorsTensor> make(const std::string& name, const std::vector<int64_t>& shape) = 0;
};

/// The tensors of one checkpoint (one file or all shards). Movable; data pointers stay valid across moves.
class SafetensorsModel {
 public:
  /// Opens a `.safetensors` file, a `model.safetensors.index.json`, or a directory holding either
  /// (`model.safetensors` wins over the index, as in transformers).
  static Result<SafetensorsModel> open(const std::string& path);
  /// Parses one in-memory file image (tests). The bytes must outlive the result.
  static Result<SafetensorsModel> parse(const uint8_t* data, size_t size, std::string name);

  /// A checkpoint without a file that has every tensor a reader asks for: find_or_make() has `maker` make it.
  static SafetensorsModel made_by(std::shared_ptr<TensorMaker> maker);

  const SafetensorsTensor* find(std::string_view name) const;
  /// find(name); a made checkpoint makes the tensor with `shape` on first use (the maker's error if it cannot).
  /// nullptr: a file checkpoint without that tensor.
  Result<const SafetensorsTensor*> find_or_make(std::string_view name, const std::vector<int64_t>& shape);
  const std::map<std::string, SafetensorsTensor, std::less<>>& tensors() const { return tensors_; }
  /// `__metadata__` of the (first) file.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  Status add_file(const uint8_t* data, size_t size, const std::string& name);

  std::vector<MappedFile> files_;
  std::shared_ptr<TensorMaker> maker_;  // made checkpoints only
  std::map<std::string, SafetensorsTensor, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// The safetensors dtype string for a DType we read ("F32", "F16", "BF16").
std::optional<DType> safetensors_dtype(std::string_view name);

}  // namespace podserve
