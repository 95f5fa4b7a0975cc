// vLLM's request fields about tokens and scheduling, beyond OpenAI's: allowed_token_ids, bad_words,
// return_tokens_as_token_ids, return_token_ids and priority (with the X-Vllm-Priority header). Read with the
// request; checked and tokenized against the model when the request is built (vLLM's messages).
#pragma once

#include <optional>
#include <string_view>

#include "engine/request.h"
#include "serve/openai/field_reader.h"
#include "serve/openai/protocol.h"

namespace podserve {
class Tokenizer;
}

namespace podserve::openai {

/// Reads the fields into `c` (types only; `allowed_token_ids: []` is vLLM's 400 here already).
MaybeError read_token_fields(FieldReader& r, CommonRequest* c);

/// vLLM: an `X-Vllm-Priority` header that parses as an integer wins over the body's `priority`.
void apply_priority_header(std::string_view header, CommonRequest* c);

/// Fills `out`'s allowed ids (range-checked against `vocab_size`), bad words (each word tokenized bare and with a
/// leading space, as vLLM's SamplingParams.update_from_tokenizer, at most 128 sequences) and priority.
std::optional<ApiError> apply_token_fields(const CommonRequest& c, const Tokenizer& tokenizer, int vocab_size,
                                           SamplingParams* out);

}  // namespace podserve::openai
