// Integer and number ranges as EBNF alternatives (JSON Schema minimum / maximum / exclusive*), with
// xgrammar 0.2.8's language: canonical integers (no "-0"); a bounded number is an integer part, an
// optional "." and 1..6 fraction digits, no exponent, whose value lies in the range.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"

namespace podserve::structured {

struct NumericBound {
  double value = 0;
  bool exclusive = false;
};

/// The body of a rule matching the integers in [min, max] (either side may be open).
/// Errors as xgrammar: bounds must be whole numbers within +-2^63; an empty range is an error.
Result<std::string> integer_range_ebnf(std::optional<NumericBound> min, std::optional<NumericBound> max);

/// The body of a rule matching the bounded decimal numbers in [min, max] (at least one side set).
Result<std::string> number_range_ebnf(std::optional<NumericBound> min, std::optional<NumericBound> max);

}  // namespace podserve::structured
