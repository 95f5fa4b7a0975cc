#include "serve/openai/tools/py_json.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include "chat/json_value.h"
#include "chat/py_string.h"
#include "serve/openai/tools/ascii_space.h"

namespace podserve::openai {
namespace {

boost::json::parse_options python_options() {
  boost::json::parse_options opt;
  opt.max_depth = 1000;            // Python's recursion limit is about this deep
  return opt;
}


}  // namespace

std::optional<boost::json::value> json_loads(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, {}, python_options());
  if (ec) return std::nullopt;
  return v;
}

bool is_complete_json(std::string_view text) { return json_loads(text).has_value(); }

std::optional<RawDecoded> json_raw_decode(std::string_view text, size_t pos) {
  if (pos >= text.size()) return std::nullopt;
  const char c = text[pos];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return std::nullopt;  // raw_decode takes no whitespace
  boost::json::stream_parser p({}, python_options());
  boost::system::error_code ec;
  size_t used = p.write_some(text.data() + pos, text.size() - pos, ec);
  if (ec) return std::nullopt;
  if (!p.done()) {
    p.finish(ec);  // a number at the very end of the text is complete only now
    if (ec || !p.done()) return std::nullopt;
  }
  // The stream parser also consumes whitespace after the value; raw_decode's end is right after it.
  while (used > 0 && is_json_space(text[pos + used - 1])) --used;
  return RawDecoded{p.release(), pos + used};
}

std::string json_dumps(const boost::json::value& value, bool ensure_ascii) {
  Result<jinja::Value> v = value_from_json(value);
  if (!v.ok()) return boost::json::serialize(value);  // beyond what Python would print (huge ints): best effort
  jinja::JsonFormat fmt;
  fmt.ensure_ascii = ensure_ascii;
  Result<std::string> out = jinja::to_json(*v, fmt);
  return out.ok() ? *out : boost::json::serialize(value);
}

size_t partial_tag_overlap(std::string_view text, std::string_view tag) {
  if (tag.empty()) return 0;
  const size_t max_check = std::min(tag.size() - 1, text.size());
  for (size_t k = max_check; k > 0; --k) {
    if (text.substr(text.size() - k) == tag.substr(0, k)) return k;
  }
  return 0;
}

std::string py_strip(std::string_view s) { return jinja::py_strip(s, std::nullopt, true, true); }
std::string py_rstrip(std::string_view s) { return jinja::py_strip(s, std::nullopt, false, true); }
std::string py_lstrip(std::string_view s) { return jinja::py_strip(s, std::nullopt, true, false); }
bool py_is_blank(std::string_view s) { return py_strip(s).empty(); }

}  // namespace podserve::openai
