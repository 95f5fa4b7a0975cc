#include "serve/openai/structured_fields.h"

#include <boost/json/serialize.hpp>

#include "base/log.h"
#include "structured/constraint.h"

namespace podserve::openai {
namespace {

/// A pydantic-style 400 for a field of the wrong shape.
ApiError pydantic_error(const std::string& loc, const std::string& what) {
  return bad_request("1 validation error for ChatCompletionRequest\n" + loc + "\n  " + what, loc);
}

/// `json` / `guided_json`: a schema as a string or an object.
MaybeError read_schema(const boost::json::value& v, const std::string& param, std::optional<std::string>* out) {
  if (v.is_string()) {
    *out = std::string(v.get_string());
  } else if (v.is_object()) {
    *out = boost::json::serialize(v);
  } else {
    return pydantic_error(param, "Input should be a valid dictionary or string");
  }
  return std::nullopt;
}

MaybeError read_string(const boost::json::value& v, const std::string& param, std::optional<std::string>* out) {
  if (!v.is_string()) return pydantic_error(param, "Input should be a valid string");
  *out = std::string(v.get_string());
  return std::nullopt;
}

MaybeError read_choice(const boost::json::value& v, const std::string& param,
                       std::optional<std::vector<std::string>>* out) {
  if (!v.is_array()) return pydantic_error(param, "Input should be a valid list");
  std::vector<std::string> choices;
  for (const auto& item : v.get_array()) {
    if (!item.is_string()) return pydantic_error(param, "Input should be a valid string");
    choices.emplace_back(item.get_string());
  }
  *out = std::move(choices);
  return std::nullopt;
}

/// `structured_outputs`: the six kinds plus the options vLLM accepts per request but reads only from the
/// server config (disable_any_whitespace, disable_additional_properties, whitespace_pattern).
MaybeError read_structured_object(const boost::json::object& so, StructuredOutputsRequest* out) {
  const std::string p = "structured_outputs.";
  for (const auto& kv : so) {
    const std::string key(kv.key());
    const boost::json::value& v = kv.value();
    if (v.is_null()) continue;
    MaybeError e;
    if (key == "json") {
      e = read_schema(v, p + key, &out->json);
    } else if (key == "regex") {
      e = read_string(v, p + key, &out->regex);
    } else if (key == "choice") {
      e = read_choice(v, p + key, &out->choice);
    } else if (key == "grammar") {
      e = read_string(v, p + key, &out->grammar);
    } else if (key == "structural_tag") {
      e = read_string(v, p + key, &out->structural_tag);
    } else if (key == "json_object") {
      if (!v.is_bool()) return pydantic_error(p + key, "Input should be a valid boolean");
      out->json_object = v.get_bool();
    } else if (key == "disable_any_whitespace" || key == "disable_additional_properties" ||
               key == "disable_fallback") {
      if (!v.is_bool()) return pydantic_error(p + key, "Input should be a valid boolean");
    }
    if (e) return e;
  }
  return std::nullopt;
}

MaybeError read_response_format(const boost::json::value& v, StructuredOutputsRequest* out) {
  if (!v.is_object()) return pydantic_error("response_format", "Input should be a valid dictionary");
  const boost::json::object& rf = v.get_object();
  const boost::json::value* type = rf.if_contains("type");
  const std::string t = type != nullptr && type->is_string() ? std::string(type->get_string()) : "";
  if (t == "text") return std::nullopt;
  if (t == "json_object") {
    out->json_object = true;
    out->present = true;
    return std::nullopt;
  }
  if (t == "json_schema") {
    const boost::json::value* js = rf.if_contains("json_schema");
    if (js == nullptr || js->is_null()) {
      return bad_request("When response_format type is 'json_schema', the 'json_schema' field must be provided.",
                         "response_format");
    }
    if (!js->is_object()) return pydantic_error("response_format.json_schema", "Input should be a valid dictionary");
    const boost::json::value* name = js->get_object().if_contains("name");
    if (name == nullptr) return pydantic_error("response_format.json_schema.name", "Field required");
    if (!name->is_string()) return pydantic_error("response_format.json_schema.name", "Input should be a valid string");
    if (const boost::json::value* strict = js->get_object().if_contains("strict");
        strict != nullptr && !strict->is_null() && !strict->is_bool()) {
      return pydantic_error("response_format.json_schema.strict", "Input should be a valid boolean");
    }
    // `strict` is accepted and, as in vLLM, the schema applies whatever its value.
    const boost::json::value* schema = js->get_object().if_contains("schema");
    out->present = true;
    out->json.reset();
    if (schema != nullptr && !schema->is_null()) {
      if (!schema->is_object()) {
        return pydantic_error("response_format.json_schema.schema", "Input should be a valid dictionary");
      }
      out->json = boost::json::serialize(*schema);
    }
    return std::nullopt;
  }
  if (t == "structural_tag") {
    out->structural_tag = boost::json::serialize(v);
    out->structural_tag_in_response_format = true;
    out->present = true;
    return std::nullopt;
  }
  return pydantic_error("response_format.type",
                          "Input should be 'text', 'json_object', 'json_schema' or 'structural_tag'");
}

std::string kinds_repr(const StructuredOutputsRequest& r) {
  auto opt = [](const auto& o) { return o ? std::string("<set>") : std::string("None"); };
  return "{'json': " + opt(r.json) + ", 'regex': " + opt(r.regex) + ", 'choice': " + opt(r.choice) +
         ", 'grammar': " + opt(r.grammar) + ", 'json_object': " + opt(r.json_object) +
         ", 'structural_tag': " + opt(r.structural_tag) + "}";
}

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

int StructuredOutputsRequest::num_kinds() const {
  return json.has_value() + regex.has_value() + choice.has_value() + grammar.has_value() + json_object.has_value() +
         structural_tag.has_value();
}

MaybeError read_structured_outputs(FieldReader& r, StructuredOutputsRequest* out) {
  if (const boost::json::value* so = r.get("structured_outputs")) {
    if (!so->is_object()) return pydantic_error("structured_outputs", "Input should be a valid dictionary");
    out->present = true;
    if (auto e = read_structured_object(so->get_object(), out)) return e;
  }
  // The older fields, as the releases that had them: each sets its kind unless structured_outputs did.
  const auto legacy = [&](std::string_view key) { return r.get(key); };
  if (const boost::json::value* v = legacy("guided_json"); v != nullptr && !out->json) {
    if (auto e = read_schema(*v, "guided_json", &out->json)) return e;
    out->present = true;
  }
  if (const boost::json::value* v = legacy("guided_regex"); v != nullptr && !out->regex) {
    if (auto e = read_string(*v, "guided_regex", &out->regex)) return e;
    out->present = true;
  }
  if (const boost::json::value* v = legacy("guided_choice"); v != nullptr && !out->choice) {
    if (auto e = read_choice(*v, "guided_choice", &out->choice)) return e;
    out->present = true;
  }
  if (const boost::json::value* v = legacy("guided_grammar"); v != nullptr && !out->grammar) {
    if (auto e = read_string(*v, "guided_grammar", &out->grammar)) return e;
    out->present = true;
  }
  // One engine serves every backend name (xgrammar's semantics); the pattern was never read by xgrammar.
  for (std::string_view key : {"guided_decoding_backend", "guided_whitespace_pattern"}) {
    if (const boost::json::value* v = r.get(key); v != nullptr && !v->is_string()) {
      return pydantic_error(std::string(key), "Input should be a valid string");
    }
  }
  if ((out->json.has_value() + out->regex.has_value() + out->choice.has_value()) > 1) {
    return bad_request("You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').");
  }
  if (const boost::json::value* rf = r.get("response_format")) {
    if (auto e = read_response_format(*rf, out)) return e;
  }
  if (out->present && out->num_kinds() == 0) {
    return bad_request("You must use one kind of structured outputs constraint but none are specified: " +
                       kinds_repr(*out));
  }
  if (out->num_kinds() > 1) {
    return bad_request("You can only use one kind of structured outputs constraint but multiple are specified: " +
                       kinds_repr(*out));
  }
  return std::nullopt;
}

ApiResult<StructuredConstraint> build_constraint(const StructuredOutputsRequest& r,
                                                 const StructuredOutputsOptions& options) {
  using Kind = StructuredConstraint::Kind;
  StructuredConstraint c;
  c.any_whitespace = !options.disable_any_whitespace;
  if (r.num_kinds() == 0) return c;
  if (r.choice) {
    if (r.choice->empty()) return bad_request("Choice '[]' cannot be an empty list");
    c.kind = Kind::kChoice;
    c.choices = *r.choice;
  } else if (r.grammar) {
    if (is_blank(*r.grammar)) return bad_request("structured_outputs.grammar cannot be an empty string");
    c.kind = Kind::kGrammar;
    c.spec = *r.grammar;
  } else if (r.json) {
    if (is_blank(*r.json)) return bad_request("structured_outputs.json cannot be an empty string");
    c.kind = Kind::kJsonSchema;
    c.spec = *r.json;
  } else if (r.structural_tag) {
    if (is_blank(*r.structural_tag)) return bad_request("structured_outputs.structural_tag cannot be an empty string");
    c.kind = Kind::kStructuralTag;
    c.spec = *r.structural_tag;
  } else if (r.json_object) {
    if (!*r.json_object) {
      return bad_request(
          "structured_outputs.json_object must be True if set; omit structured_outputs to disable structured outputs");
    }
    c.kind = Kind::kJsonObject;
  } else if (r.regex) {
    if (r.regex->find('\0') != std::string::npos) {
      return bad_request("structured_outputs.regex must not contain a NUL character ('\\x00')");
    }
    c.kind = Kind::kRegex;
    c.spec = *r.regex;
  }
  // xgrammar's check at admission (vLLM's backend validation): the grammar must build.
  Result<structured::Grammar> grammar = structured::grammar_for(c);
  if (!grammar.ok()) return ApiError{grammar.status(), {}};
  return c;
}

std::optional<ApiError> check_structural_tag(const StructuredOutputsRequest& r) {
  if (!r.structural_tag) return std::nullopt;
  const std::string field = r.structural_tag_in_response_format ? "response_format" : "structured_outputs";
  StructuredConstraint c;
  c.kind = StructuredConstraint::Kind::kStructuralTag;
  c.spec = *r.structural_tag;
  Result<structured::Grammar> grammar = is_blank(c.spec) ? Result<structured::Grammar>(invalid_argument("empty"))
                                                         : structured::grammar_for(c);
  if (grammar.ok() || grammar.status().code() != StatusCode::kInvalidArgument) return std::nullopt;
  PODSERVE_LOG(kInfo) << "Refused a " << field << " structural tag: " << grammar.status().message();
  return validation_error("Invalid " + field + " structural_tag specification.", field);
}

}  // namespace podserve::openai
