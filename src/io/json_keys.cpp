#include "io/json_keys.h"

#include <boost/json/basic_parser_impl.hpp>
#include <set>

namespace podserve {
namespace {

// A boost::json::basic_parser handler that only records the keys of the top-level object.
struct TopLevelKeys {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;

  int depth = 0;
  std::string key;
  std::set<std::string> seen;
  std::optional<std::string> duplicate;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { ++depth; return true; }
  bool on_object_end(std::size_t, ec_t&) { --depth; return true; }
  bool on_array_begin(ec_t&) { ++depth; return true; }
  bool on_array_end(std::size_t, ec_t&) { --depth; return true; }
  bool on_key_part(std::string_view s, std::size_t, ec_t&) {
    if (depth == 1) key.append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, ec_t&) {
    if (depth != 1) return true;
    key.append(s);
    if (!seen.insert(key).second && !duplicate) duplicate = key;
    key.clear();
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, ec_t&) { return true; }
  bool on_string(std::string_view, std::size_t, ec_t&) { return true; }
  bool on_number_part(std::string_view, ec_t&) { return true; }
  bool on_int64(std::int64_t, std::string_view, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, std::string_view, ec_t&) { return true; }
  bool on_double(double, std::string_view, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(std::string_view, ec_t&) { return true; }
  bool on_comment(std::string_view, ec_t&) { return true; }
};

}  // namespace

std::optional<std::string> find_duplicate_key(std::string_view json_text) {
  boost::json::basic_parser<TopLevelKeys> parser(boost::json::parse_options{});
  boost::system::error_code ec;
  parser.write_some(false, json_text.data(), json_text.size(), ec);
  if (ec) return std::nullopt;
  return parser.handler().duplicate;
}

}  // namespace podserve
