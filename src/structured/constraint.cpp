#include "structured/constraint.h"

#include "structured/ebnf_parser.h"
#include "structured/json_schema.h"
#include "structured/regex_to_ebnf.h"
#include "structured/structural_tag.h"

namespace podserve::structured {

const char* constraint_kind_name(StructuredConstraint::Kind kind) {
  switch (kind) {
    case StructuredConstraint::Kind::kNone: return "none";
    case StructuredConstraint::Kind::kJsonSchema: return "json";
    case StructuredConstraint::Kind::kJsonObject: return "json_object";
    case StructuredConstraint::Kind::kRegex: return "regex";
    case StructuredConstraint::Kind::kChoice: return "choice";
    case StructuredConstraint::Kind::kGrammar: return "grammar";
    case StructuredConstraint::Kind::kStructuralTag: return "structural_tag";
  }
  return "none";
}

std::string StructuredConstraint::cache_key() const {
  std::string key = constraint_kind_name(kind);
  key += any_whitespace ? "\x01" : "\x02";
  if (kind == Kind::kChoice) {
    for (const std::string& c : choices) {
      key += std::to_string(c.size()) + ":" + c;
    }
  } else {
    key += spec;
  }
  return key;
}

Grammar choice_grammar(const std::vector<std::string>& choices) {
  Grammar g;
  std::vector<GrammarExpr> alternatives;
  for (const std::string& c : choices) alternatives.push_back(GrammarExpr::literal(c));
  g.rules.push_back(GrammarRule{"root", GrammarExpr::choice(std::move(alternatives)), std::nullopt});
  g.root = 0;
  return g;
}

namespace {

/// EBNF that a converter produced: a parse failure here is a converter bug, reported with the request's kind.
Result<Grammar> parse_generated(const std::string& ebnf, const std::string& prefix) {
  Result<Grammar> g = parse_ebnf(ebnf);
  if (!g.ok()) return invalid_argument(prefix + g.status().message());
  return g;
}

}  // namespace

Result<Grammar> grammar_for(const StructuredConstraint& c) {
  switch (c.kind) {
    case StructuredConstraint::Kind::kNone: return invalid_argument("no structured output constraint");
    case StructuredConstraint::Kind::kChoice: {
      if (c.choices.empty()) return invalid_argument("Choice '[]' cannot be an empty list");
      return choice_grammar(c.choices);
    }
    case StructuredConstraint::Kind::kGrammar: {
      Result<Grammar> g = parse_ebnf(c.spec);
      if (!g.ok()) return invalid_argument("Invalid grammar specification. " + g.status().message());
      return g;
    }
    case StructuredConstraint::Kind::kJsonSchema:
    case StructuredConstraint::Kind::kJsonObject: {
      // vLLM: xgrammar's compile_json_schema with any_whitespace = !disable_any_whitespace, and the compact
      // separators when whitespace is off.
      JsonSchemaOptions options;
      options.any_whitespace = c.any_whitespace;
      if (!c.any_whitespace) options.separators = std::make_pair(std::string(","), std::string(":"));
      Result<std::string> ebnf = c.kind == StructuredConstraint::Kind::kJsonObject
                                     ? Result<std::string>(json_object_ebnf(options))
                                     : json_schema_to_ebnf(c.spec, options);
      if (!ebnf.ok()) return ebnf.status();
      return parse_generated(*ebnf, "Failed to transform json schema into a grammar: ");
    }
    case StructuredConstraint::Kind::kRegex: {
      Result<std::string> ebnf = regex_to_ebnf(c.spec);
      if (!ebnf.ok()) return invalid_argument("Failed to transform regex into a grammar: " + ebnf.status().message());
      return parse_generated(*ebnf, "Failed to transform regex into a grammar: ");
    }
    case StructuredConstraint::Kind::kStructuralTag:
      return structural_tag_grammar(c.spec);
  }
  return invalid_argument("no structured output constraint");
}

}  // namespace podserve::structured
