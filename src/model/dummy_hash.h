// The values of LOAD_FORMAT=dummy weights: a counter-based hash, a pure function of (seed, tensor name, element
// index), so any element of any tensor is computed on its own: in parallel on the host, or on a GPU by a kernel
// that includes this header (everything here is constexpr and __host__ __device__ under nvcc), bit for bit the
// same. tools/goldens/dummy_weights.py computes the same values with numpy (tests/unit/model/dummy_weights_test).
//
//   key(name)      = FNV-1a 64 of the tensor's Hugging Face name ("model.layers.0.mlp.up_proj.weight")
//   stream         = mix64(key ^ mix64(seed))                 mix64 = SplitMix64's finalizer
//   h(i)           = mix64(stream + (i + 1) * 0x9E3779B97F4A7C15)  (uint64 arithmetic, wrapping)
//   value(i)       = ((float)(h(i) >> 40) * 2^-23 - 1) * 1e-3f     in float32: uniform in [-1e-3, 1e-3)
//
// (h >> 40) has 24 bits, so the first product and the subtraction are exact (also when fused into an FMA) and
// only the final multiply rounds: every IEEE float32 implementation gives the same bits. Stored as bfloat16 or
// float16 with round-to-nearest-even (torch's .to()), as float32 unchanged. vLLM's initialize_dummy_weights
// draws uniform(-1e-3, 1e-3) per parameter with seed 1234; kDummySeed is that seed.
#pragma once

#include <cstdint>
#include <string_view>

#if defined(__CUDACC__)
#define PODSERVE_HOST_DEVICE __host__ __device__
#else
#define PODSERVE_HOST_DEVICE
#endif

namespace podserve::dummy {

inline constexpr uint64_t kDummySeed = 1234;
inline constexpr float kDummyRange = 1e-3f;
inline constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

PODSERVE_HOST_DEVICE constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// FNV-1a 64 of the name's bytes.
constexpr uint64_t tensor_key(std::string_view name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

PODSERVE_HOST_DEVICE constexpr uint64_t tensor_stream(uint64_t seed, uint64_t key) { return mix64(key ^ mix64(seed)); }

/// Element `index` of the tensor whose stream is `stream`, as float32.
PODSERVE_HOST_DEVICE constexpr float value(uint64_t stream, uint64_t index) {
  const uint64_t h = mix64(stream + (index + 1) * kGolden);
  // h >> 40 < 2^24: through int32, an exact and (unlike uint64 -> float) vectorizable conversion.
  return (static_cast<float>(static_cast<int32_t>(h >> 40)) * 0x1p-23f - 1.0f) * kDummyRange;
}

}  // namespace podserve::dummy
