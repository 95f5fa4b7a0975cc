// JSON Schema -> EBNF: vLLM's up-front errors (its exact messages), what xgrammar rejects, and hostile
// schemas (bounded work and a clear error). The languages themselves are checked against xgrammar in
// tests/structured (e2e_structured).
#include <gtest/gtest.h>

#include <string>

#include "structured/json_schema.h"
#include "structured/regex_to_ebnf.h"

namespace podserve::structured {
namespace {

constexpr const char* kTooDeep =
    "The JSON schema is nested too deeply: objects and arrays may nest at most 64 levels";
constexpr const char* kUnsupported = "The provided JSON schema contains features not supported by xgrammar.";
constexpr const char* kFailed = "Failed to transform json schema into a grammar: ";

std::string error_of(std::string_view schema) {
  Result<std::string> r = json_schema_to_ebnf(schema);
  return r.ok() ? "(ok)" : r.status().message();
}

// {"type":"array","items": ... } nested so that objects nest `levels` deep (the root is level 1).
std::string nested_items(int levels) {
  std::string s;
  for (int i = 1; i < levels; ++i) s += "{\"type\":\"array\",\"items\":";
  s += "{\"type\":\"integer\"}";
  for (int i = 1; i < levels; ++i) s += "}";
  return s;
}

TEST(JsonSchemaErrors, NestingLimitIsVllms) {
  EXPECT_TRUE(json_schema_to_ebnf(nested_items(64)).ok());
  EXPECT_EQ(error_of(nested_items(65)), kTooDeep);
  // A million open brackets: the nesting message, not a crash.
  EXPECT_EQ(error_of(std::string(1000000, '[')), kTooDeep);
}

TEST(JsonSchemaErrors, InvalidJson) {
  EXPECT_EQ(error_of("{\"type\": \"object\""), "Invalid JSON grammar specification.");
  EXPECT_EQ(error_of(""), "Invalid JSON grammar specification.");
}

TEST(JsonSchemaErrors, FeaturesVllmRejectsForXgrammar) {
  for (const char* schema : {
           R"({"type":"integer","multipleOf":2})",
           R"({"type":["number","null"],"multipleOf":0.5})",
           R"({"type":"array","uniqueItems":true})",
           R"({"type":"array","contains":{"type":"integer"}})",
           R"({"type":"string","format":"iso-week"})",
           R"({"type":"string","pattern":"a+","maxLength":3})",
           R"({"type":"string","format":"date","minLength":3})",
           R"({"type":"object","propertyNames":{"pattern":"a","maxLength":2}})",
           R"({"type":"object","propertyNames":{"enum":["a"]},"properties":{"a":{}}})",
           R"({"type":"object","propertyNames":{"enum":["a"]},"unevaluatedProperties":false})",
           R"({"type":"object","patternProperties":{"a":{},"b":{}}})",
           R"({"type":"object","patternProperties":{"a":{}},"properties":{"b":{}}})",
           R"({"allOf":[{"type":"string"},{"enum":["yes","no"]}]})",
           R"({"properties":{"deep":{"anyOf":[{"type":"integer","multipleOf":3}]}}})",
       }) {
    EXPECT_EQ(error_of(schema), kUnsupported) << schema;
  }
  // Keywords xgrammar ignores with a warning compile (vLLM lets them through).
  EXPECT_TRUE(json_schema_to_ebnf(R"({"type":"integer","not":{"const":3},"if":{},"then":{}})").ok());
  EXPECT_TRUE(json_schema_to_ebnf(R"({"format":"iso-week"})").ok());  // no "type": vLLM does not check it
}

TEST(JsonSchemaErrors, WhatXgrammarRejects) {
  const std::string prefix = kFailed;
  EXPECT_EQ(error_of("false"), prefix + "Schema 'false' cannot accept any value");
  EXPECT_EQ(error_of(R"({"type":"foo"})"), prefix + "Unsupported type \"foo\"");
  EXPECT_EQ(error_of(R"({"type":"integer","minimum":5,"maximum":3})"),
            prefix + "Invalid range: minimum greater than maximum");
  EXPECT_EQ(error_of(R"({"type":"integer","minimum":1.5})"), prefix + "Integer constraint must be a whole number");
  EXPECT_EQ(error_of(R"({"type":"integer","maximum":1e30})"), prefix + "Integer exceeds maximum limit");
  EXPECT_EQ(error_of(R"({"type":"number","exclusiveMinimum":1,"maximum":1})"), prefix + "Invalid range: empty range");
  EXPECT_EQ(error_of(R"({"type":"integer","minimum":"x"})"), prefix + "Value must be a number");
  EXPECT_EQ(error_of(R"({"type":"object","minProperties":1})"),
            prefix + "minProperties is greater than the number of properties, but additional properties aren't "
                     "allowed: 1 > 0");
  EXPECT_EQ(error_of(R"({"type":"array","items":{},"minItems":3,"maxItems":2})"),
            prefix + "minItems is greater than maxItems: 3 > 2");
  EXPECT_EQ(error_of(R"({"$ref":"#/$defs/missing"})"), prefix + "Cannot find field $defs in #/$defs/missing");
  EXPECT_EQ(error_of(R"({"type":"string","pattern":"(a"})"),
            prefix + "Invalid pattern: Regex parsing error at position 3: The parenthesis is not closed.");
}

TEST(JsonSchemaHostile, RefCycleWithoutProgressIsAnError) {
  EXPECT_EQ(error_of(R"({"$ref":"#"})"), std::string(kFailed) + "$ref cycle that matches no input: #");
  EXPECT_EQ(error_of(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})"),
            std::string(kFailed) + "$ref cycle that matches no input: #/$defs/a");
  // Recursion through an array or object consumes input: fine.
  EXPECT_TRUE(json_schema_to_ebnf(R"({"type":"array","items":{"$ref":"#"}})").ok());
}

TEST(JsonSchemaHostile, LongRefChainIsBounded) {
  // 5000 definitions, each an array of the next: bounded recursion, a clear error.
  std::string defs;
  for (int i = 0; i < 5000; ++i) {
    defs += (i ? "," : "") + std::string("\"d") + std::to_string(i) + "\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/d" +
            std::to_string(i + 1) + "\"}}";
  }
  defs += ",\"d5000\":{\"type\":\"integer\"}";
  const std::string error = error_of("{\"$defs\":{" + defs + "},\"$ref\":\"#/$defs/d0\"}");
  EXPECT_NE(error.find("more than 256 levels deep"), std::string::npos) << error;
}

TEST(JsonSchemaHostile, LargeButLegalInputsStayLinear) {
  std::string values;
  for (int i = 0; i < 100000; ++i) values += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  Result<std::string> big_enum = json_schema_to_ebnf("{\"enum\":[" + values + "]}");
  ASSERT_TRUE(big_enum.ok());
  EXPECT_LT(big_enum->size(), 20u * 100000u);
  // Huge numeric ranges cost digits, not values.
  EXPECT_TRUE(json_schema_to_ebnf(R"({"type":"integer","minimum":-9000000000000000000,"maximum":9000000000000000000})").ok());
  // The widest double range: quadratic in its (at most 309) digits, as xgrammar's, so a few MB at most.
  Result<std::string> wide = json_schema_to_ebnf(R"({"type":"number","minimum":-1e300,"maximum":1e308})");
  ASSERT_TRUE(wide.ok());
  EXPECT_LT(wide->size(), 4000000u);
}

TEST(JsonSchemaHostile, PropertyCountStatesAreBounded) {
  std::string props;
  for (int i = 0; i < 1000; ++i) props += (i ? ",\"p" : "\"p") + std::to_string(i) + "\":{}";
  const std::string error = error_of("{\"type\":\"object\",\"properties\":{" + props + "},\"maxProperties\":500}");
  EXPECT_EQ(error, std::string(kFailed) + "too many properties for minProperties/maxProperties");
  // Without a count, many properties are fine, required or not (work and output linear in their number).
  std::string many, required;
  for (int i = 0; i < 20000; ++i) {
    many += (i ? ",\"p" : "\"p") + std::to_string(i) + "\":{\"type\":\"integer\"}";
    if (i % 2) required += (required.empty() ? "\"p" : ",\"p") + std::to_string(i) + "\"";
  }
  Result<std::string> wide = json_schema_to_ebnf("{\"type\":\"object\",\"properties\":{" + many +
                                                 "},\"required\":[" + required + "],\"additionalProperties\":true}");
  ASSERT_TRUE(wide.ok()) << wide.status().message();
  EXPECT_LT(wide->size(), 400u * 20000u);
  // A declared name of a megabyte beside additionalProperties: an error, not a million nested rules.
  const std::string long_name(1 << 20, 'k');
  EXPECT_EQ(error_of("{\"properties\":{\"" + long_name + "\":{}},\"additionalProperties\":true}"),
            std::string(kFailed) + "a property name is longer than 4096 bytes");
}

TEST(JsonObject, IsTheObjectSchema) {
  EXPECT_EQ(json_object_ebnf(), *json_schema_to_ebnf(R"({"type":"object"})"));
  JsonSchemaOptions compact;
  compact.any_whitespace = false;
  compact.separators = std::make_pair(",", ":");
  EXPECT_EQ(json_object_ebnf(compact), *json_schema_to_ebnf(R"({"type":"object"})", compact));
  EXPECT_NE(json_object_ebnf(compact), json_object_ebnf());
}

TEST(RegexErrors, MessagesAndBounds) {
  EXPECT_EQ(regex_to_ebnf("a(?=b)").status().message(), "Regex parsing error at position 4: Lookahead is not supported yet.");
  EXPECT_EQ(regex_to_ebnf("(a").status().message(), "Regex parsing error at position 3: The parenthesis is not closed.");
  EXPECT_EQ(regex_to_ebnf("\\1").status().message(), "Regex parsing error at position 1: Backreference is not supported yet.");
  EXPECT_FALSE(regex_to_ebnf("a{100001}").ok());
  EXPECT_FALSE(regex_to_ebnf(std::string(100000, '(') + std::string(100000, ')')).ok());  // depth bound
  EXPECT_TRUE(regex_to_ebnf(std::string(200, '(') + "a" + std::string(200, ')')).ok());
  RegexOptions json_string;
  json_string.json_string = true;
  EXPECT_FALSE(regex_to_ebnf("[\\x00-\\x1f]", json_string).ok());  // nothing left inside a JSON string
  EXPECT_EQ(*regex_to_ebnf("^ab$"), "root ::= \"ab\"\n");
}

}  // namespace
}  // namespace podserve::structured
