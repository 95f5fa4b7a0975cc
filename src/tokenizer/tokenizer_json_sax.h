// Streaming parse of a tokenizer.json: model.vocab and model.merges (in a big file, ~10^6 strings and nearly
// all of its bytes) go straight into plain vectors; the rest of the document becomes a Boost.JSON DOM as
// usual. Building DOM nodes for the two tables cost more than everything else in loading a tokenizer.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace podserve::tokenizer_internal {

struct BpeTables {
  bool has_vocab = false;   // model.vocab was an object: `vocab` holds its entries, the DOM a null there
  bool has_merges = false;  // model.merges was a list: `merges` holds it, the DOM a null there
  std::vector<std::pair<std::string, int64_t>> vocab;       // in file order
  std::vector<std::pair<std::string, std::string>> merges;  // "a b" and ["a", "b"] alike; "#version" dropped
};

/// The document (allocated from `sp`) with the two tables moved into `tables`. Errors are InvalidArgument
/// without the "tokenizer.json: " prefix.
Result<boost::json::value> parse_tokenizer_document(std::string_view text, boost::json::storage_ptr sp,
                                                    BpeTables* tables);

}  // namespace podserve::tokenizer_internal
