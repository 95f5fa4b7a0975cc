// The structured-output fields of vLLM's current release, read into plain data: `response_format`
// (text / json_object / json_schema / structural_tag), `structured_outputs` {json, regex, choice, grammar,
// json_object, structural_tag}, and the older `guided_json` / `guided_regex` / `guided_choice` / `guided_grammar`
// (honoured as the vLLM releases that introduced them did; current vLLM ignores them). Errors come at vLLM's two
// stages: read_structured_outputs gives the request-model errors (a 400 at once), build_constraint the ones vLLM
// raises when the request reaches the engine (a 400, or an SSE error event after the 200 when streaming).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "serve/openai/errors.h"
#include "serve/openai/field_reader.h"

namespace podserve::openai {

/// The constraint kinds a request set (vLLM's StructuredOutputsParams); nullopt = not set.
struct StructuredOutputsRequest {
  std::optional<std::string> json;            // schema JSON text
  std::optional<std::string> regex;
  std::optional<std::vector<std::string>> choice;
  std::optional<std::string> grammar;
  std::optional<bool> json_object;
  std::optional<std::string> structural_tag;  // JSON text
  bool structural_tag_in_response_format = false;  // response_format {"type": "structural_tag"} (else structured_outputs)
  bool present = false;                       // some constraint field was given (even an empty one)
  int num_kinds() const;
};

/// Server-wide settings (--structured-outputs-config / GUIDED_DECODING_BACKEND).
struct StructuredOutputsOptions {
  bool disable_any_whitespace = false;  // JSON without whitespace between tokens
  bool enable_in_reasoning = false;     // constrain the reasoning part too
};

/// vLLM 0.32's request-stage check of a structural tag (validate_structural_tag_payload): a tag xgrammar refuses,
/// or a blank one, is a 400 naming only the field it came in ("Invalid response_format structural_tag
/// specification." / "Invalid structured_outputs ..."), before any answer starts; the reason goes to the log.
/// Formats podserve does not build are left to build_constraint (a 400 naming the format).
std::optional<ApiError> check_structural_tag(const StructuredOutputsRequest& r);

/// Reads response_format, structured_outputs and guided_*; request-stage errors only.
MaybeError read_structured_outputs(FieldReader& r, StructuredOutputsRequest* out);

/// The engine's constraint, with vLLM's SamplingParams / backend checks ("Choice '[]' cannot be an empty list",
/// "Invalid grammar specification.", "Failed to transform regex into a grammar: ...", ...).
ApiResult<StructuredConstraint> build_constraint(const StructuredOutputsRequest& request,
                                                 const StructuredOutputsOptions& options);

}  // namespace podserve::openai
