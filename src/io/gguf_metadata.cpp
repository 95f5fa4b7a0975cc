// Typed metadata accessors of GgufFile (parsing lives in gguf.cpp).
#include <limits>
#include <optional>
#include <utility>

#include "io/gguf.h"

namespace podserve {

namespace {

std::optional<int64_t> as_int(const GgufValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v.v)) return *i;
  if (const uint64_t* u = std::get_if<uint64_t>(&v.v)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<double> as_float(const GgufValue& v) {
  if (const double* d = std::get_if<double>(&v.v)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  if (const uint64_t* u = std::get_if<uint64_t>(&v.v)) return static_cast<double>(*u);
  return std::nullopt;
}

const GgufValue::Array* as_array(const GgufValue& v) {
  const auto* a = std::get_if<std::shared_ptr<GgufValue::Array>>(&v.v);
  return a != nullptr && *a != nullptr ? a->get() : nullptr;
}

/// Converts every element of an array with `convert`; false if the value is not an array or an element fails.
template <typename T, typename F>
bool convert_array(const GgufValue& v, std::vector<T>* out, F convert) {
  const GgufValue::Array* a = as_array(v);
  if (a == nullptr) return false;
  out->reserve(a->size());
  for (const GgufValue& item : *a) {
    std::optional<T> x = convert(item);
    if (!x) return false;
    out->push_back(std::move(*x));
  }
  return true;
}

}  // namespace

Status GgufFile::type_error(std::string_view key, const char* expected) const {
  return invalid_argument("'" + name_ + "': metadata key '" + std::string(key) + "' is not " + expected);
}

#define PODSERVE_GGUF_LOOKUP(key)                                                            \
  const GgufValue* value = find(key);                                                        \
  if (value == nullptr) {                                                                    \
    return not_found("'" + name_ + "': metadata key '" + std::string(key) + "' is missing"); \
  }

Result<std::string> GgufFile::get_string(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  if (const std::string* s = std::get_if<std::string>(&value->v)) return *s;
  return type_error(key, "a string");
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  if (std::optional<int64_t> i = as_int(*value)) return *i;
  return type_error(key, "an integer that fits int64");
}

Result<double> GgufFile::get_float(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  if (std::optional<double> d = as_float(*value)) return *d;
  return type_error(key, "a number");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  if (const bool* b = std::get_if<bool>(&value->v)) return *b;
  return type_error(key, "a bool");
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  std::vector<std::string> out;
  auto convert = [](const GgufValue& v) -> std::optional<std::string> {
    if (const std::string* s = std::get_if<std::string>(&v.v)) return *s;
    return std::nullopt;
  };
  if (convert_array(*value, &out, convert)) return out;
  return type_error(key, "an array of strings");
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  std::vector<int64_t> out;
  if (convert_array(*value, &out, as_int)) return out;
  return type_error(key, "an array of integers that fit int64");
}

Result<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
  PODSERVE_GGUF_LOOKUP(key);
  std::vector<double> out;
  if (convert_array(*value, &out, as_float)) return out;
  return type_error(key, "an array of numbers");
}

#undef PODSERVE_GGUF_LOOKUP

}  // namespace podserve
