// Python's json module and string helpers as vLLM's parsers use them: json.loads (whole text), raw_decode
// (one value at an offset), json.dumps (", " / ": " separators, ensure_ascii on or off, Python float repr).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace podserve::openai {

/// json.loads(text): nullopt where Python raises JSONDecodeError.
std::optional<boost::json::value> json_loads(std::string_view text);
/// True when json.loads(text) succeeds (vLLM's is_complete_json).
bool is_complete_json(std::string_view text);

/// JSONDecoder().raw_decode(text, pos): one value starting exactly at `pos` (no leading whitespace), and the
/// offset just past it. nullopt on a decode error.
struct RawDecoded {
  boost::json::value value;
  size_t end = 0;
};
std::optional<RawDecoded> json_raw_decode(std::string_view text, size_t pos = 0);

/// json.dumps(value, ensure_ascii=...). Integers beyond int64 are printed as boost holds them.
std::string json_dumps(const boost::json::value& value, bool ensure_ascii);

/// Length of the longest proper prefix of `tag` that is a suffix of `text` (vLLM's partial_tag_overlap).
size_t partial_tag_overlap(std::string_view text, std::string_view tag);

/// str.strip() / rstrip() / lstrip() with Python's Unicode whitespace.
std::string py_strip(std::string_view s);
std::string py_rstrip(std::string_view s);
std::string py_lstrip(std::string_view s);
/// `s.strip() == ""`.
bool py_is_blank(std::string_view s);

}  // namespace podserve::openai
