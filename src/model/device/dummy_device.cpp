#include "model/device/dummy_device.h"

#include <sys/mman.h>

#include "model/dummy_hash.h"
#include "model/dummy_weights.h"

namespace podserve {

DeviceDummyTensors::~DeviceDummyTensors() {
  for (const auto& [begin, p] : placeholders_) ::munmap(const_cast<uint8_t*>(begin), p.bytes);
}

Result<SafetensorsTensor> DeviceDummyTensors::make(const std::string& name, const std::vector<int64_t>& shape) {
  if (type_ != DType::kF32 && type_ != DType::kBF16 && type_ != DType::kF16) {
    return invalid_argument("dummy weights are float32, bfloat16 or float16");
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || n > (int64_t{1} << 40) / d) return invalid_argument("dummy tensor '" + name + "' has an unusable shape");
    n *= d;
  }
  SafetensorsTensor t;
  t.type = type_;
  t.shape = shape;
  t.nbytes = static_cast<size_t>(n) * static_cast<size_t>(dtype_block_bytes(type_));
  const uint64_t stream = dummy::tensor_stream(seed_, dummy::tensor_key(name));
  bytes_ += t.nbytes;
  if (shape.size() < 2) {  // read while binding: real memory, the CPU fill's values
    vectors_.emplace_back(t.nbytes);
    fill_dummy_values(type_, stream, 0, n, vectors_.back().data());
    t.data = vectors_.back().data();
    return t;
  }
  void* p = ::mmap(nullptr, t.nbytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return resource_exhausted("cannot reserve an address range for dummy tensor '" + name + "'");
  t.data = static_cast<const uint8_t*>(p);
  placeholders_[t.data] = Placeholder{t.data, t.nbytes, type_, stream};
  return t;
}

const DeviceDummyTensors::Placeholder* DeviceDummyTensors::find(const uint8_t* p) const {
  auto it = placeholders_.upper_bound(p);
  if (it == placeholders_.begin()) return nullptr;
  --it;
  const Placeholder& ph = it->second;
  return p < ph.begin + ph.bytes ? &ph : nullptr;
}

Status plan_dummy_fills(WeightPlan& plan, const DeviceDummyTensors& dummy) {
  std::vector<WeightUpload> kept;
  plan.upload_bytes = 0;
  for (const WeightUpload& u : plan.uploads) {
    const DeviceDummyTensors::Placeholder* ph = dummy.find(u.src);
    if (ph == nullptr) {
      kept.push_back(u);
      plan.upload_bytes += u.bytes;
      continue;
    }
    const size_t elem = static_cast<size_t>(dtype_block_bytes(ph->type));
    const size_t first_byte = static_cast<size_t>(u.src - ph->begin);
    if (first_byte + u.bytes > ph->bytes || first_byte % elem != 0 || u.bytes % elem != 0) {
      return invalid_argument("a dummy weight's upload does not lie within its tensor");
    }
    plan.fills.push_back({u.offset, ph->type, first_byte / elem, u.bytes / elem, ph->stream});
  }
  plan.uploads = std::move(kept);
  return ok_status();
}

}  // namespace podserve
