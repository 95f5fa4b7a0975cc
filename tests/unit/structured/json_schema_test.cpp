#include <gtest/gtest.h>

#include "structured/json_schema.h"

namespace podserve::structured {
namespace {
TEST(JsonSchema, Placeholder) { EXPECT_TRUE(json_schema_to_ebnf(std::string_view("{}")).ok()); }
}  // namespace
}  // namespace podserve::structured
