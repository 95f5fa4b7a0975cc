// The push JSON event parser against ijson's yajl2_c backend (goldens from tools/goldens/json_events.py): the same
// (prefix, event, value) triples after each fed chunk, and the same chunk where the text stops being JSON.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "serve/openai/tools/json_events.h"
#include "test_util.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;

std::string_view event_name(JsonEvent e) {
  switch (e) {
    case JsonEvent::kStartMap: return "start_map";
    case JsonEvent::kMapKey: return "map_key";
    case JsonEvent::kEndMap: return "end_map";
    case JsonEvent::kStartArray: return "start_array";
    case JsonEvent::kEndArray: return "end_array";
    case JsonEvent::kString: return "string";
    case JsonEvent::kNumber: return "number";
    case JsonEvent::kBoolean: return "boolean";
    case JsonEvent::kNull: return "null";
  }
  return "";
}

TEST(JsonEvents, ChunkedEventsMatchIjson) {
  const json::value golden = json::parse(testing::read_file(testing::test_data_dir() + "/json_events.json"));
  const json::array& cases = golden.at("cases").as_array();
  EXPECT_GE(cases.size(), 20u);
  for (const json::value& c : cases) {
    for (const json::value& feed : c.at("feeds").as_array()) {
      SCOPED_TRACE(std::string(c.at("text").as_string()));
      JsonEventParser parser;
      size_t step = 0;
      for (const json::value& s : feed.as_array()) {
        json::array got;
        const bool ok = parser.feed(s.at("chunk").as_string(), [&](std::string_view prefix, JsonEvent e,
                                                                   std::string_view value) {
          json::value v = e == JsonEvent::kNumber || e == JsonEvent::kStartMap || e == JsonEvent::kEndMap ||
                                  e == JsonEvent::kStartArray || e == JsonEvent::kEndArray
                              ? json::value(nullptr)
                              : json::value(json::string(value));
          got.push_back(json::array{json::string(prefix), json::string(event_name(e)), v});
        });
        EXPECT_EQ(got, s.at("events")) << "chunk " << step << " " << s.at("chunk");
        EXPECT_EQ(ok, s.at("ok").as_bool()) << "chunk " << step << " " << s.at("chunk");
        ++step;
      }
    }
  }
}

}  // namespace
}  // namespace podserve::openai
