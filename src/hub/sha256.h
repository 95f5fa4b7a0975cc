// SHA-256 (FIPS 180-4), streaming. The Hub names LFS blobs by the sha256 of their content, so every downloaded
// LFS file is hashed as it arrives and checked before it is placed in the cache.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace podserve::hub {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// The digest as 64 lower-case hex characters. Call once; the object is spent afterwards.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

/// sha256 of a whole file as hex; empty string when the file cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace podserve::hub
