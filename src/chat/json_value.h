// JSON <-> template values: requests arrive as Boost.JSON; `tojson` prints values the way Python's
// json.dumps does (transformers' tojson: ensure_ascii=False, key order kept, ", " / ": " separators).
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "chat/value.h"

namespace podserve {

/// Converts parsed JSON (e.g. a request's `messages`) into a template value. Objects keep their key
/// order. Fails on integers beyond int64 and on nesting deeper than jinja::kMaxValueDepth.
Result<jinja::Value> value_from_json(const boost::json::value& json);

namespace jinja {

/// json.dumps options.
struct JsonFormat {
  std::optional<std::string> indent;  // absent: single line
  std::string item_separator = ", ";  // json.dumps uses "," when indent is set
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};

/// json.dumps(value). Undefined, callables, namespaces and iterators are not serializable (an error).
Result<std::string> to_json(const Value& value, const JsonFormat& format);

}  // namespace jinja
}  // namespace podserve
