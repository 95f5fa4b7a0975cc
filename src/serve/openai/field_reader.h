// Typed, non-throwing reads of one JSON object's fields, with errors that name the field (the `param` of the
// error response). Remembers which keys were read, so the rest can be reported as ignored.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai/errors.h"

namespace podserve::openai {

/// "string", "number", "object", ... for messages.
std::string_view json_kind_name(const boost::json::value& v);

/// A failure or nothing. `if (auto err = reader.get_bool("stream", &x)) return *err;`
using MaybeError = std::optional<ApiError>;

class FieldReader {
 public:
  /// `prefix` is prepended to param names (e.g. "stream_options.").
  explicit FieldReader(const boost::json::object& obj, std::string prefix = {})
      : obj_(obj), prefix_(std::move(prefix)) {}

  /// Marks `key` as known and returns its value; nullptr when absent or null.
  const boost::json::value* get(std::string_view key);
  /// A JSON bool; `out` untouched when absent or null.
  MaybeError get_bool(std::string_view key, bool* out);
  /// An integer (a float with an integral value is accepted, as pydantic does).
  MaybeError get_int(std::string_view key, std::optional<int64_t>* out);
  /// Any number.
  MaybeError get_number(std::string_view key, std::optional<double>* out);
  MaybeError get_string(std::string_view key, std::optional<std::string>* out);
  /// A JSON object (copied).
  MaybeError get_object(std::string_view key, std::optional<boost::json::object>* out);

  /// "expected <what>, got <kind>" for this field.
  ApiError type_error(std::string_view key, std::string_view expected, const boost::json::value& got) const;
  std::string param(std::string_view key) const { return prefix_ + std::string(key); }

  /// Keys present but never read, in the object's order.
  std::vector<std::string> unread_keys() const;

 private:
  const boost::json::object& obj_;
  std::string prefix_;
  std::set<std::string, std::less<>> read_;
};

/// Converts a JSON number holding an integral value to int64 (false for other kinds or fractions).
bool json_to_int64(const boost::json::value& v, int64_t* out);

}  // namespace podserve::openai
