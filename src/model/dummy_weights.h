// LOAD_FORMAT=dummy (vLLM's DummyModelLoader, gpu.md §9): a Hugging Face model built from its config.json alone.
// Every tensor the architecture binds is made when it is bound (SafetensorsModel::made_by), in the model dtype,
// and filled in parallel with the counter-based values of dummy_hash.h, so 8B- and 70B-shaped models can be
// served and benchmarked where no weights can be fetched, and a GPU can fill the very same values on the device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "io/safetensors.h"
#include "model/decoder.h"

namespace podserve {

/// The type dummy weights are stored in: DTYPE when it is not auto, else config.json's dtype / torch_dtype, else
/// float32 (transformers' default). float32, bfloat16 and float16 (also "float", "half") are accepted.
Result<DType> dummy_weight_type(WeightDType requested, const std::string& config_dtype);

/// Writes elements [first, first + n) of a tensor with stream `stream` (dummy::tensor_stream) as `type` (F32,
/// F16 or BF16) to `out`, which holds those n elements.
void fill_dummy_values(DType type, uint64_t stream, uint64_t first, int64_t n, void* out);

/// A tensor a dummy checkpoint made: what a GPU backend fills on the device with the same values.
struct DummyTensor {
  std::string name;
  std::vector<int64_t> shape;
};

struct DummyFillStats {
  int64_t tensors = 0;
  uint64_t bytes = 0;
  double seconds = 0;  // spent making and filling tensors
};

/// Makes the tensors of a dummy checkpoint: each one in `type`, in its own anonymous mapping (huge pages where
/// the kernel gives them), filled by `num_threads` threads (0 = all cores), first-touch, so a tensor's pages are
/// written by the threads that fault them in. Owns the memory until it is destroyed.
class DummyWeights final : public TensorMaker {
 public:
  DummyWeights(DType type, uint64_t seed, int num_threads);
  ~DummyWeights() override;
  DummyWeights(const DummyWeights&) = delete;
  DummyWeights& operator=(const DummyWeights&) = delete;

  Result<SafetensorsTensor> make(const std::string& name, const std::vector<int64_t>& shape) override;
  /// Loading is over: stops the fill threads (a later make() fills on the calling thread) and returns the totals.
  DummyFillStats finish();
  /// The tensors made so far, in the order the model bound them.
  const std::vector<DummyTensor>& layout() const { return layout_; }

 private:
  struct Mapping {
    void* data;
    size_t bytes;
  };
  DType type_;
  uint64_t seed_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<Mapping> mappings_;
  std::vector<DummyTensor> layout_;
  DummyFillStats stats_;
};

}  // namespace podserve
