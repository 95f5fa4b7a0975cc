#include "serve/openai/field_reader.h"

#include <cmath>

namespace podserve::openai {

std::string_view json_kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "value";
}

bool json_to_int64(const boost::json::value& v, int64_t* out) {
  if (const int64_t* i = v.if_int64()) {
    *out = *i;
    return true;
  }
  if (const uint64_t* u = v.if_uint64()) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(*u);
    return true;
  }
  if (const double* d = v.if_double()) {
    // 9.2e18 is the largest double below 2^63; anything beyond would overflow the cast.
    if (!std::isfinite(*d) || std::floor(*d) != *d || std::fabs(*d) > 9.2e18) return false;
    *out = static_cast<int64_t>(*d);
    return true;
  }
  return false;
}

const boost::json::value* FieldReader::get(std::string_view key) {
  read_.emplace(key);
  const boost::json::value* v = obj_.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

ApiError FieldReader::type_error(std::string_view key, std::string_view expected,
                                 const boost::json::value& got) const {
  return bad_request("Invalid type for '" + param(key) + "': expected " + std::string(expected) + ", got " +
                         std::string(json_kind_name(got)),
                     param(key));
}

MaybeError FieldReader::get_bool(std::string_view key, bool* out) {
  const boost::json::value* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return type_error(key, "a boolean", *v);
  *out = v->get_bool();
  return std::nullopt;
}

MaybeError FieldReader::get_int(std::string_view key, std::optional<int64_t>* out) {
  const boost::json::value* v = get(key);
  if (v == nullptr) return std::nullopt;
  int64_t i = 0;
  if (!json_to_int64(*v, &i)) return type_error(key, "an integer", *v);
  *out = i;
  return std::nullopt;
}

MaybeError FieldReader::get_number(std::string_view key, std::optional<double>* out) {
  const boost::json::value* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return type_error(key, "a number", *v);
  double d = v->is_double()  ? v->get_double()
             : v->is_int64() ? static_cast<double>(v->get_int64())
                             : static_cast<double>(v->get_uint64());
  if (!std::isfinite(d)) return bad_request("'" + param(key) + "' must be a finite number", param(key));
  *out = d;
  return std::nullopt;
}

MaybeError FieldReader::get_string(std::string_view key, std::optional<std::string>* out) {
  const boost::json::value* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return type_error(key, "a string", *v);
  *out = std::string(v->get_string());
  return std::nullopt;
}

MaybeError FieldReader::get_object(std::string_view key, std::optional<boost::json::object>* out) {
  const boost::json::value* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) return type_error(key, "an object", *v);
  *out = v->get_object();
  return std::nullopt;
}

std::vector<std::string> FieldReader::unread_keys() const {
  std::vector<std::string> out;
  for (const auto& kv : obj_) {
    if (read_.find(std::string_view(kv.key())) == read_.end()) out.emplace_back(kv.key());
  }
  return out;
}

}  // namespace podserve::openai
