// Partial JSON as vLLM's streaming tool parsers read it: the `partial_json_parser` package (0.2.1.1.post7,
// `loads(text, flags)` = json.loads of its fast completion of the text) and vLLM's `partial_json_loads`, which
// falls back to JSONDecoder.raw_decode when the completed text has extra data after the first value. Ported
// for the flags vLLM passes (everything partial, with or without partial strings), on code points as Python
// indexes them; the package's quirks are kept (they decide what a stream sends).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace podserve::openai {

/// partial_json_parser's ensure_json(text, allow): the text cut and closed into complete JSON; nullopt where
/// the package raises. `partial_strings`: Allow.ALL (true) or Allow.ALL & ~Allow.STR (false).
std::optional<std::string> partial_json_complete(std::string_view text, bool partial_strings);

struct PartialJson {
  boost::json::value value;
  size_t end = 0;  // bytes of `text` the value came from (all of it, or raw_decode's end)
};

/// vLLM's partial_json_loads(text, flags); nullopt where it raises (Python's NaN/Infinity literals included).
std::optional<PartialJson> partial_json_loads(std::string_view text, bool partial_strings);

}  // namespace podserve::openai
