// LOAD_FORMAT=dummy for a device model, without the weights ever in host memory: the checkpoint's matrices are
// placeholders, each an address range of its own in an inaccessible mapping (PROT_NONE: nothing is allocated and
// a host read would fault), which the binding code passes along untouched; the weight plan then turns every
// upload from a placeholder into a fill that a kernel computes on the device with model/dummy_hash.h's values
// (bit for bit those of the CPU's DummyWeights). Vectors (norms, biases) are read while binding, so they are made
// in host memory with the same values; they are small.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "io/safetensors.h"
#include "model/device/weight_plan.h"

namespace podserve {

class DeviceDummyTensors final : public TensorMaker {
 public:
  DeviceDummyTensors(DType type, uint64_t seed) : type_(type), seed_(seed) {}
  ~DeviceDummyTensors() override;
  DeviceDummyTensors(const DeviceDummyTensors&) = delete;
  DeviceDummyTensors& operator=(const DeviceDummyTensors&) = delete;

  Result<SafetensorsTensor> make(const std::string& name, const std::vector<int64_t>& shape) override;

  struct Placeholder {
    const uint8_t* begin = nullptr;
    size_t bytes = 0;
    DType type = DType::kF32;
    uint64_t stream = 0;  // dummy::tensor_stream(seed, tensor_key(name))
  };
  /// The placeholder whose range holds `p`, or null.
  const Placeholder* find(const uint8_t* p) const;
  /// Bytes of every tensor made (placeholders and vectors).
  uint64_t bytes() const { return bytes_; }

 private:
  DType type_;
  uint64_t seed_;
  uint64_t bytes_ = 0;
  std::map<const uint8_t*, Placeholder> placeholders_;  // by begin
  std::vector<std::vector<uint8_t>> vectors_;
};

/// Moves every upload of `plan` whose source lies in one of `dummy`'s placeholders to plan.fills (the device
/// offset, the first element within the tensor, the count). InvalidArgument if an upload straddles a
/// placeholder's end.
Status plan_dummy_fills(WeightPlan& plan, const DeviceDummyTensors& dummy);

}  // namespace podserve
