// Structural tags (xgrammar 0.2.8's `Grammar.from_structural_tag`, structured-tools.md §2.8) lowered to the
// grammar IR: a JSON tree of formats — const_string, json_schema (style "json"), regex, grammar, any_text,
// sequence, or, tag {begin, content, end}, triggered_tags {triggers, tags, at_least_one, stop_after_first,
// excludes}, tags_with_separator — plus vLLM's legacy {"structures": [{begin, schema, end}], "triggers"}.
// Free text (any_text inside a tag, triggered_tags) is xgrammar's TagDispatch: text that contains none of the
// excluded strings (the enclosing tag's ends among them), where a trigger hands over to its tags; written here
// as one rule per state of the Aho-Corasick automaton over those strings.
#pragma once

#include <string_view>

#include "base/status.h"
#include "structured/grammar.h"

namespace podserve::structured {

/// The grammar of a structural tag (`{"type": "structural_tag", "format": {...}}` or the legacy form).
/// Errors: "Invalid structural tag specification. <why>" (vLLM's message, xgrammar's reason), and for a format
/// xgrammar has but podserve does not build yet, the same prefix naming it.
Result<Grammar> structural_tag_grammar(std::string_view spec);

}  // namespace podserve::structured
