// What a request constrains its output to, as plain data the engine carries (no JSON in the engine): the kind
// and its spec text, as vLLM's StructuredOutputsParams holds them. grammar_for() lowers it to the grammar IR.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "structured/grammar.h"

namespace podserve::structured {

struct StructuredConstraint {
  enum class Kind { kNone, kJsonSchema, kJsonObject, kRegex, kChoice, kGrammar, kStructuralTag };
  Kind kind = Kind::kNone;
  std::string spec;                  // JSON Schema text, regex, EBNF grammar, or structural-tag JSON
  std::vector<std::string> choices;  // kChoice
  bool any_whitespace = true;        // JSON: whitespace between tokens (vLLM: !disable_any_whitespace)

  bool active() const { return kind != Kind::kNone; }
  /// A key that identifies the grammar (kind, spec, options), for the compile cache.
  std::string cache_key() const;
};

const char* constraint_kind_name(StructuredConstraint::Kind kind);  // "json", "regex", ...

/// The grammar of a constraint. Errors carry vLLM's messages (e.g. "Invalid grammar specification: ...").
Result<Grammar> grammar_for(const StructuredConstraint& constraint);

/// choice -> `root ::= "a" | "b" | ...` (vLLM's choice_as_grammar, as IR).
Grammar choice_grammar(const std::vector<std::string>& choices);

}  // namespace podserve::structured
