// Bounds-checked little-endian cursor over an untrusted byte range (a mapped file). Every read checks the
// remaining bytes first and returns a DataLoss Status naming the source and the byte offset otherwise.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/status.h"

namespace podserve {

static_assert(std::endian::native == std::endian::little, "file formats are read as little-endian in place");

/// Sequential reader; never reads past `size`. `name` (usually the file path) prefixes error messages.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string_view name) : data_(data), size_(size), name_(name) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& name() const { return name_; }

  /// DataLoss "'<name>': <what> (at byte <offset>)".
  Status error(const std::string& what) const { return error_at(pos_, what); }
  Status error_at(size_t offset, const std::string& what) const {
    return data_loss("'" + name_ + "': " + what + " (at byte " + std::to_string(offset) + ")");
  }

  // `what` (and `key`, if given) describe the field for error messages; they are only formatted on failure,
  // so the hot path of reading large arrays allocates nothing.

  /// Reads one trivially copyable little-endian scalar.
  template <typename T>
  Result<T> read(std::string_view what, std::string_view key = {}) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return truncated(sizeof(T), what, key);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  /// Reads a gguf_string: u64 byte length then that many bytes (no terminator).
  Result<std::string> read_string(std::string_view what, std::string_view key = {}) {
    const size_t at = pos_;
    PODSERVE_ASSIGN_OR_RETURN(uint64_t len, read<uint64_t>(what, key));
    if (len > remaining()) {
      return error_at(at, "truncated " + describe(what, key) + ": length " + std::to_string(len) + " but only " +
                              std::to_string(remaining()) + " bytes remain");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

  /// Advances by `n` bytes.
  Status skip(uint64_t n, std::string_view what) {
    if (n > remaining()) return truncated(n, what, {});
    pos_ += static_cast<size_t>(n);
    return ok_status();
  }

 private:
  static std::string describe(std::string_view what, std::string_view key) {
    std::string s(what);
    if (!key.empty()) s += " of key '" + std::string(key) + "'";
    return s;
  }
  Status truncated(uint64_t need, std::string_view what, std::string_view key) const {
    return error("truncated " + describe(what, key) + ": need " + std::to_string(need) + " bytes, " +
                 std::to_string(remaining()) + " remain");
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
};

}  // namespace podserve
