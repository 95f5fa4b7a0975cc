// The JSON Schema -> EBNF conversion itself (json_schema.h runs vLLM's checks around it). Errors carry
// the reason only; json_schema_to_ebnf() prefixes vLLM's "Failed to transform json schema ...".
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "base/status.h"
#include "structured/json_schema.h"

namespace podserve::structured {

Result<std::string> convert_json_schema(const boost::json::value& schema, const JsonSchemaOptions& options);

}  // namespace podserve::structured
