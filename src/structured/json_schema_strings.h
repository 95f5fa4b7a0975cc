// String pieces of the JSON Schema converter, with xgrammar 0.2.8's languages (measured with its wheel):
// the `format`s it supports, enum/const values as text, and object keys that differ from given names.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve::structured {

/// The formats xgrammar (and so vLLM's `STRING_SUPPORTED_FORMATS`) enforces.
bool is_supported_format(std::string_view format);

/// The text between the quotes of a string with that format, as an EBNF expression.
Result<std::string> format_body_ebnf(std::string_view format);

/// `value` as xgrammar writes enum/const values: compact JSON, key order kept, non-ASCII raw,
/// control characters escaped, numbers as C's %.17g.
std::string json_compact(const boost::json::value& value);

/// Adds a rule (name hint, body) and returns its unique name.
using AddRule = std::function<std::string(const std::string& hint, const std::string& body)>;

/// Rules for the part of a JSON string after its opening quote (closing quote included) whose raw text
/// is none of `excluded` (each the JSON text between the quotes, e.g. `a\"b`). `string_rest`: a rule for
/// any string content plus the closing quote; `escape`: what may follow a backslash. Returns the entry.
std::string excluded_key_rules(const std::vector<std::string>& excluded, const std::string& hint,
                               const std::string& string_rest, const std::string& escape,
                               const AddRule& add_rule);

}  // namespace podserve::structured
